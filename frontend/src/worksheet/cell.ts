/** One cell of a worksheet: its source, type, outputs and where it is in an execution. */
import { newId } from "../util/ids";
import { Signal } from "../util/signal";
import type { KernelMessage } from "../kernel/messages";
import { OutputList } from "./outputs";

export type CellType = "code" | "markdown";

/** queued: sent, waiting for the kernel; running: the kernel is executing it. */
export type RunState = "idle" | "queued" | "running";

export type CellChange = "source" | "type" | "language" | "runState" | "executionCount" | "input";

export interface InputRequest {
  prompt: string;
  password: boolean;
  message: KernelMessage;
}

export class Cell {
  readonly changed = new Signal<CellChange>();
  readonly outputs = new OutputList();
  readonly id: string;
  private _type: CellType;
  private _source: string;
  private _language = "";
  private _runState: RunState = "idle";
  private _executionCount: number | null = null;
  private _inputRequest: InputRequest | null = null;
  metadata: Record<string, unknown> = {};

  constructor(type: CellType = "code", source = "", id?: string) {
    this._type = type;
    this._source = source;
    this.id = id && /^[a-zA-Z0-9_-]{1,64}$/.test(id) ? id : newId(8);
  }

  get type(): CellType {
    return this._type;
  }

  set type(type: CellType) {
    if (type === this._type) return;
    this._type = type;
    if (type === "markdown") {
      this.outputs.clear();
      this.executionCount = null;
    }
    this.changed.emit("type");
  }

  get source(): string {
    return this._source;
  }

  /** Set by the editor as the person types; views other than the editor listen for it. */
  set source(source: string) {
    if (source === this._source) return;
    this._source = source;
    this.changed.emit("source");
  }

  /** The language the code is in when not its kernel's own ("": the kernel's): one of the
   * kernel's cell languages (`gp` in a Sage worksheet, see kernel/kinds.ts). */
  get language(): string {
    return this._language;
  }

  set language(language: string) {
    if (language === this._language) return;
    this._language = language;
    this.changed.emit("language");
  }

  get runState(): RunState {
    return this._runState;
  }

  set runState(state: RunState) {
    if (state === this._runState) return;
    this._runState = state;
    this.changed.emit("runState");
  }

  get executionCount(): number | null {
    return this._executionCount;
  }

  set executionCount(count: number | null) {
    if (count === this._executionCount) return;
    this._executionCount = count;
    this.changed.emit("executionCount");
  }

  /** The kernel is waiting for `input()`; null once answered or abandoned. */
  get inputRequest(): InputRequest | null {
    return this._inputRequest;
  }

  set inputRequest(request: InputRequest | null) {
    this._inputRequest = request;
    this.changed.emit("input");
  }
}
