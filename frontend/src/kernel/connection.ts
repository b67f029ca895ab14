/**
 * One live kernel for the page: starts (or re-attaches to) it over REST, speaks the Jupyter
 * protocol over its channels WebSocket, routes replies and outputs to whoever sent the request,
 * and reconnects with backoff when the socket drops. Its `state` is what the page shows.
 *
 * A reconnect misses nothing: the hub numbers each kernel message (`cellhub_seq`, one sequence
 * per kernel that a restart continues), the connection remembers the last number it received,
 * and every socket it opens asks to resume after it (`?resume=N`), through whichever hub the
 * load balancer picks. What the kernel sent meanwhile arrives first, once and in order, and the
 * replies among it settle the requests sent before the drop; a message numbered at or below the
 * last one received is dropped, should one come twice.
 */
import { newId } from "../util/ids";
import { Signal } from "../util/signal";
import { type Channel, type Content, type KernelMessage, makeMessage } from "./messages";
import { KernelsApi } from "./rest";
import { type Buffer, decodeBinaryMessage, encodeBinaryMessage, normalizeBuffers } from "./wireFormat";

export type KernelState = "connecting" | "starting" | "idle" | "busy" | "restarting" | "reconnecting" | "dead";

export interface RequestHandlers {
  onIOPub?(message: KernelMessage): void;
  onReply?(message: KernelMessage): void;
  onStdin?(message: KernelMessage): void;
  /** The kernel restarted or died before this request finished: no more messages will come. */
  onAbandoned?(): void;
}

/** Sees an iopub output message of one request first; returning false keeps it from the requester. */
export type IOPubHook = (message: KernelMessage) => boolean;

const HOOKED_TYPES = new Set(["stream", "display_data", "execute_result", "error", "clear_output", "update_display_data"]);

interface Pending {
  handlers: RequestHandlers;
  replied: boolean;
  idle: boolean;
}

const MAX_BACKOFF_MS = 30_000;
/** The WebSocket close code the hub closes a kernel's sockets with when the kernel ended. */
const NORMAL_CLOSURE = 1000;
/** A hold never stalls the kernel's messages for longer than this. */
const HOLD_LIMIT_MS = 5_000;

export class KernelConnection {
  readonly stateChanged = new Signal<KernelState>();
  /** Every iopub message, whoever asked for it (display updates may come from any cell). */
  readonly iopub = new Signal<KernelMessage>();
  /** Human-readable news about the connection ("" clears it). */
  readonly notice = new Signal<string>();
  /** The channels socket (re)opened: state held in the kernel (widget comms) may need fetching. */
  readonly connected = new Signal<void>();
  state: KernelState = "connecting";
  kernelId: string | null = null;
  /**
   * Code may have run since the kernel last started, so restarting it loses variables: true
   * once code is sent, false after a (re)start. A kernel re-attached after a reload counts
   * as holding state, since the page cannot know what ran in it before.
   */
  holdsState = false;
  /**
   * The failed request that made the kernel dead (a `KernelsApiError` from starting, restarting
   * or re-attaching), so that a page can explain it in its own words; null otherwise.
   */
  failure: unknown = null;

  private socket: WebSocket | null = null;
  private outbox: (string | ArrayBuffer)[] = [];
  private hooks = new Map<string, IOPubHook[]>();
  private held: KernelMessage[] | null = null;
  private holds = 0;
  private pending = new Map<string, Pending>();
  private attempts = 0;
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly session = newId();
  /**
   * The number of the last kernel message received: the socket resumes after it. 0 for a kernel
   * this page started (all it ever sent is the page's); null for one re-attached after a reload
   * until its first message, as what it sent before is not this page's to show.
   */
  private lastSeq: number | null = null;

  constructor(
    readonly api: KernelsApi,
    /** The kernel spec the connection starts kernels of (see `switchKernel`). */
    public kernelName: string,
    private readonly rememberKey: string,
  ) {
    window.addEventListener("online", () => {
      if (this.state === "reconnecting") this.reconnectNow();
    });
  }

  /**
   * Attach to the kernel this tab used before a reload, or start a new one; `preferred`, when
   * given, is the kernel to attach to instead (a worksheet's own; null: a new one).
   */
  async start(preferred?: string | null): Promise<void> {
    this.setState("starting");
    this.failure = null;
    try {
      const remembered = preferred === undefined ? sessionStorage.getItem(this.rememberKey) : preferred;
      const reattached = remembered ? await this.api.get(remembered) : null;
      this.holdsState = reattached !== null;
      if (!reattached) await this.finishRelease();
      this.attach((reattached ?? (await this.api.start(this.kernelName))).id, reattached ? null : 0);
    } catch (error) {
      this.markDead(`Could not start a kernel: ${(error as Error).message}`, error);
    }
  }

  /**
   * Make sure the kernel an earlier page of this tab released (see `release`) is gone before
   * starting another: its shutdown left as that page went, may not have reached the hub yet
   * (or at all), and would still count against the client's limit. Its answer does not
   * matter: gone already (404) is as good as shut down now.
   */
  private async finishRelease(): Promise<void> {
    const released = sessionStorage.getItem(this.releasedKey);
    if (!released) return;
    sessionStorage.removeItem(this.releasedKey);
    await this.api.shutdown(released).catch(() => undefined);
  }

  private get releasedKey(): string {
    return `${this.rememberKey}:released`;
  }

  async interrupt(): Promise<void> {
    if (this.kernelId) await this.api.interrupt(this.kernelId);
  }

  /** Restart the kernel; a kernel the server forgot is replaced by a new one. */
  async restart(): Promise<void> {
    this.abandonAll();
    this.setState("restarting");
    this.holdsState = false;
    try {
      const known = this.kernelId ? await this.api.get(this.kernelId) : null;
      if (known) {
        await this.api.restart(known.id);
        this.attempts = 0;
        if (this.socket?.readyState === WebSocket.OPEN) this.requestKernelInfo();
        else this.reconnectNow();
      } else {
        this.attach((await this.api.start(this.kernelName)).id);
      }
    } catch (error) {
      this.markDead(`Restart failed: ${(error as Error).message}`, error);
    }
  }

  /** Replace the kernel by a new one of spec `name` (another language): the old one is shut down. */
  async switchKernel(name: string): Promise<void> {
    const old = this.kernelId;
    this.kernelName = name;
    this.abandonAll();
    this.closeSocket();
    this.kernelId = null;
    sessionStorage.removeItem(this.rememberKey);
    this.setState("starting");
    this.holdsState = false;
    this.failure = null;
    if (old) await this.api.shutdown(old).catch(() => undefined);
    try {
      this.attach((await this.api.start(name)).id);
    } catch (error) {
      this.markDead(`Could not start a kernel: ${(error as Error).message}`, error);
    }
  }

  /**
   * The page is going away (pagehide): shut the kernel down with a request that outlives the
   * page, and forget it, so that a reload starts a kernel of its own instead of re-attaching to
   * one being shut down (and a client's kernels never pile up to its limit). The tab keeps its
   * id as released, for the next page to make sure of (`finishRelease`). The connection is as
   * new: `start` makes another kernel, should the page come back from the back-forward cache.
   */
  release(): void {
    const id = this.kernelId;
    if (!id) return;
    this.kernelId = null;
    sessionStorage.removeItem(this.rememberKey);
    sessionStorage.setItem(this.releasedKey, id);
    this.api.shutdownAsPageLeaves(id);
    this.abandonAll();
    this.closeSocket();
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    this.setState("connecting");
  }

  execute(code: string, handlers: RequestHandlers): string {
    const content = { code, silent: false, store_history: true, user_expressions: {}, allow_stdin: true, stop_on_error: true };
    this.holdsState = true;
    return this.send("shell", "execute_request", content, handlers);
  }

  /** A shell request answered by one reply (complete, inspect, kernel_info). */
  request(msgType: string, content: Content, timeoutMs = 10_000): Promise<KernelMessage> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${msgType} timed out`));
      }, timeoutMs);
      const id = this.send("shell", msgType, content, {
        onReply: (reply) => {
          clearTimeout(timer);
          resolve(reply);
        },
        onAbandoned: () => {
          clearTimeout(timer);
          reject(new Error(`${msgType} abandoned`));
        },
      });
    });
  }

  replyToInput(value: string, request: KernelMessage): void {
    const message = makeMessage("stdin", "input_reply", { value }, this.session, request.header);
    this.transmit(JSON.stringify(message));
  }

  /**
   * A comm message (comm_open, comm_msg, comm_close): no shell reply comes, so its handlers only
   * see the iopub messages it causes, until its `status: idle`. Buffers go as a binary frame.
   */
  sendComm(
    msgType: string,
    content: Content,
    handlers: RequestHandlers,
    metadata: Record<string, unknown> = {},
    buffers: readonly Buffer[] = [],
  ): string {
    return this.send("shell", msgType, content, handlers, { metadata, buffers, expectReply: false });
  }

  /**
   * Routes the output messages of request `parentId` to `hook` first (the newest hook wins), as
   * an ipywidgets Output widget captures what runs inside `with out:`. Returns the remover.
   */
  hookIOPub(parentId: string, hook: IOPubHook): () => void {
    const list = this.hooks.get(parentId) ?? [];
    list.push(hook);
    this.hooks.set(parentId, list);
    return () => {
      const current = this.hooks.get(parentId);
      if (!current) return;
      const rest = current.filter((h) => h !== hook);
      if (rest.length) this.hooks.set(parentId, rest);
      else this.hooks.delete(parentId);
    };
  }

  /**
   * Holds incoming messages, in order, until `until` settles: while the widget code loads, and
   * while a widget message is being applied (as JupyterLab chains its message handling), so
   * an output that follows `with out:` waits until the Output widget knows it should capture it.
   */
  hold(until: Promise<unknown>): void {
    this.holds += 1;
    this.held ??= [];
    const timeout = new Promise((resolve) => setTimeout(resolve, HOLD_LIMIT_MS));
    void Promise.race([until, timeout])
      .catch(() => undefined)
      .then(() => {
        this.holds -= 1;
        this.drainHeld();
      });
  }

  private drainHeld(): void {
    while (this.holds === 0 && this.held?.length) this.dispatch(this.held.shift() as KernelMessage);
    if (this.holds === 0) this.held = null;
  }

  private send(
    channel: Channel,
    msgType: string,
    content: Content,
    handlers: RequestHandlers,
    options: { metadata?: Record<string, unknown>; buffers?: readonly Buffer[]; expectReply?: boolean } = {},
  ): string {
    const message = makeMessage(channel, msgType, content, this.session);
    if (options.metadata) message.metadata = options.metadata;
    this.pending.set(message.header.msg_id, { handlers, replied: options.expectReply === false, idle: false });
    const buffers = options.buffers ?? [];
    this.transmit(buffers.length ? encodeBinaryMessage(message, buffers) : JSON.stringify(message));
    return message.header.msg_id;
  }

  private transmit(data: string | ArrayBuffer): void {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(data);
    else this.outbox.push(data);
  }

  /** Use kernel `kernelId`: one this page just started, or with `lastSeq` null one re-attached. */
  private attach(kernelId: string, lastSeq: number | null = 0): void {
    this.kernelId = kernelId;
    this.lastSeq = lastSeq;
    sessionStorage.setItem(this.rememberKey, kernelId);
    this.attempts = 0;
    this.openSocket();
  }

  private openSocket(): void {
    if (!this.kernelId) return;
    this.closeSocket();
    const socket = new WebSocket(this.api.channelsUrl(this.kernelId, this.session, this.lastSeq));
    socket.binaryType = "arraybuffer";
    this.socket = socket;
    socket.onopen = () => {
      this.attempts = 0;
      this.notice.emit("");
      for (const data of this.outbox.splice(0)) socket.send(data);
      this.requestKernelInfo();
      this.connected.emit();
    };
    socket.onmessage = (event) => {
      let message: KernelMessage;
      try {
        message =
          typeof event.data === "string"
            ? normalizeBuffers(JSON.parse(event.data) as KernelMessage)
            : decodeBinaryMessage(event.data as ArrayBuffer);
      } catch (error) {
        console.error("cellhub: unreadable kernel message", error);
        return;
      }
      if (!this.isNew(message)) return;
      if (this.held) this.held.push(message);
      else this.dispatch(message);
    };
    socket.onclose = (event) => {
      if (this.socket !== socket) return;
      this.socket = null;
      if (this.state === "dead") return;
      // A normal closure is the server's: the kernel ended (a shutdown someone asked for
      // says only goodbye, as Jupyter Server's does); ask at once what became of it.
      if (event.code === NORMAL_CLOSURE) this.reconnectNow();
      else this.scheduleReconnect();
    };
  }

  /** Whether the message is not one received already; remembers its number. The hub's own
   * messages (an error reply, a notice) carry none and are always new. */
  private isNew(message: KernelMessage): boolean {
    const seq = (message as KernelMessage & { cellhub_seq?: unknown }).cellhub_seq;
    if (typeof seq !== "number" || seq <= 0) return true;
    if (this.lastSeq !== null && seq <= this.lastSeq) return false;
    this.lastSeq = seq;
    return true;
  }

  private requestKernelInfo(): void {
    this.request("kernel_info_request", {}).then(
      () => {
        if (this.state !== "busy") this.setState("idle");
      },
      () => undefined,
    );
  }

  private scheduleReconnect(): void {
    this.attempts += 1;
    const delay = Math.min(MAX_BACKOFF_MS, 500 * 2 ** (this.attempts - 1)) * (0.8 + Math.random() * 0.4);
    this.setState("reconnecting");
    this.notice.emit(`Connection to the kernel lost. Reconnecting in ${Math.ceil(delay / 1000)} s (attempt ${this.attempts})…`);
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => this.reconnectNow(), delay);
  }

  private reconnectNow(): void {
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    const id = this.kernelId;
    if (!id) return;
    this.notice.emit("Reconnecting to the kernel…");
    this.api.find(id).then(
      (found) => {
        if (!("gone" in found)) this.openSocket();
        else if (found.gone) this.markDead(`The kernel is gone: ${found.gone}.`);
        else this.markDead("The kernel is gone: it was shut down or the server lost it.");
      },
      () => this.scheduleReconnect(),
    );
  }

  private markDead(why: string, failure: unknown = null): void {
    this.failure = failure;
    this.abandonAll();
    this.closeSocket();
    this.setState("dead");
    this.notice.emit(why);
  }

  /** Close the socket without the reconnect its closing would otherwise start. */
  private closeSocket(): void {
    const socket = this.socket;
    this.socket = null;
    socket?.close();
  }

  private dispatch(message: KernelMessage): void {
    const parentId = message.parent_header?.msg_id;
    const pending = parentId ? this.pending.get(parentId) : undefined;
    if (message.channel === "iopub") {
      if (message.header.msg_type === "status") {
        this.onStatus(message.content.execution_state as string, message.content.reason as string | undefined);
      }
      this.iopub.emit(message);
      if (parentId && HOOKED_TYPES.has(message.header.msg_type)) {
        const hooks = this.hooks.get(parentId);
        if (hooks && !hooks[hooks.length - 1](message)) return;
      }
      if (!pending) return;
      pending.handlers.onIOPub?.(message);
      if (message.header.msg_type === "status" && message.content.execution_state === "idle") pending.idle = true;
    } else if (message.channel === "stdin") {
      pending?.handlers.onStdin?.(message);
      return;
    } else if (pending) {
      pending.replied = true;
      pending.handlers.onReply?.(message);
    }
    if (pending && parentId && pending.replied && pending.idle) this.pending.delete(parentId);
  }

  /** ``reason`` is cellhub's account of why a kernel died (out of memory, culled, shut down). */
  private onStatus(executionState: string, reason?: string): void {
    switch (executionState) {
      case "busy":
      case "idle":
      case "starting":
        this.setState(executionState);
        break;
      case "restarting":
        // The server restarts a kernel that died; what was running will not finish.
        this.abandonAll();
        this.holdsState = false;
        this.setState("restarting");
        break;
      case "dead":
        this.markDead(
          reason ? `The kernel is gone: ${reason}.` : "The kernel died and could not be restarted automatically.",
        );
        break;
    }
  }

  private abandonAll(): void {
    const abandoned = [...this.pending.values()];
    this.pending.clear();
    this.outbox = [];
    for (const { handlers } of abandoned) handlers.onAbandoned?.();
  }

  private setState(state: KernelState): void {
    if (state === this.state) return;
    this.state = state;
    this.stateChanged.emit(state);
  }
}
