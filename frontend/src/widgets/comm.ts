/**
 * A Jupyter comm over cellhub's kernel connection, in the shape ipywidgets' managers expect
 * (`IClassicComm`). Callbacks a widget model passes with a message get the iopub messages that
 * message causes; WidgetModel counts their `status: idle` to keep one update in flight.
 */
import type { ICallbacks, IClassicComm } from "@jupyter-widgets/base";
import type { KernelConnection, RequestHandlers } from "../kernel/connection";
import type { KernelMessage } from "../kernel/messages";
import type { Buffer } from "../kernel/wireFormat";

type JSONValue = unknown;
type JSONObject = Record<string, unknown>;
type Handler = (message: KernelMessage) => unknown;

export class KernelComm implements IClassicComm {
  private onMessage: Handler | null = null;
  private onClosed: Handler | null = null;
  private closed = false;

  constructor(
    private readonly kernel: KernelConnection,
    readonly comm_id: string,
    readonly target_name: string,
    private readonly forget: (comm: KernelComm) => void,
  ) {}

  open(data: JSONValue, callbacks?: ICallbacks, metadata?: JSONObject, buffers?: Buffer[]): string {
    const content = { comm_id: this.comm_id, target_name: this.target_name, data: data ?? {} };
    return this.kernel.sendComm("comm_open", content, handlersFor(callbacks), metadata, buffers);
  }

  send(data: JSONValue, callbacks?: ICallbacks, metadata?: JSONObject, buffers?: Buffer[]): string {
    if (this.closed) return "";
    return this.kernel.sendComm("comm_msg", { comm_id: this.comm_id, data }, handlersFor(callbacks), metadata, buffers);
  }

  close(data?: JSONValue, callbacks?: ICallbacks, metadata?: JSONObject, buffers?: Buffer[]): string {
    if (this.closed) return "";
    this.closed = true;
    this.forget(this);
    return this.kernel.sendComm("comm_close", { comm_id: this.comm_id, data: data ?? {} }, handlersFor(callbacks), metadata, buffers);
  }

  on_msg(callback: Handler): void {
    this.onMessage = callback;
  }

  on_close(callback: Handler): void {
    this.onClosed = callback;
  }

  /** A comm_msg from the kernel; settles when the model has applied it. */
  deliver(message: KernelMessage): unknown {
    return this.onMessage?.(message);
  }

  /** The kernel closed the comm. */
  deliverClose(message: KernelMessage): unknown {
    if (this.closed) return undefined;
    this.closed = true;
    return this.onClosed?.(message);
  }
}

function handlersFor(callbacks: ICallbacks | undefined): RequestHandlers {
  if (!callbacks) return {};
  const iopub = callbacks.iopub as Record<string, Handler | undefined> | undefined;
  const shell = callbacks.shell as Record<string, Handler | undefined> | undefined;
  return {
    onIOPub: (message) => iopub?.[message.header.msg_type]?.(message),
    onReply: (message) => shell?.reply?.(message),
    // The kernel restarted before answering: let the model stop waiting for this message.
    onAbandoned: () => iopub?.status?.({ header: { msg_type: "status" }, content: { execution_state: "idle" } } as unknown as KernelMessage),
  };
}
