/**
 * The outputs of one cell, in nbformat's shape, and how Jupyter's iopub messages change them:
 * streams append (merging with the previous chunk of the same stream), clear_output may wait
 * for the next output, update_display_data replaces outputs by display id.
 */
import { Signal } from "../util/signal";

export type MimeBundle = Record<string, unknown>;

export interface StreamOutput {
  output_type: "stream";
  name: "stdout" | "stderr";
  text: string;
  /** Newlines in `text`, kept as it grows so views need not count megabytes per frame. */
  lines?: number;
}

export interface DisplayOutput {
  output_type: "display_data" | "execute_result";
  data: MimeBundle;
  metadata: Record<string, unknown>;
  execution_count?: number | null;
  displayId?: string;
}

export interface ErrorOutput {
  output_type: "error";
  ename: string;
  evalue: string;
  traceback: string[];
}

export type Output = StreamOutput | DisplayOutput | ErrorOutput;

/** What changed: everything, or the output at `index` (appended or replaced). */
export type OutputChange = { kind: "reset" } | { kind: "item"; index: number };

export class OutputList {
  readonly changed = new Signal<OutputChange>();
  private items: Output[] = [];
  private clearOnNext = false;

  get all(): readonly Output[] {
    return this.items;
  }

  get length(): number {
    return this.items.length;
  }

  add(output: Output): void {
    this.applyPendingClear();
    const last = this.items[this.items.length - 1];
    if (output.output_type === "stream" && last?.output_type === "stream" && last.name === output.name) {
      appendStream(last, output.text);
      this.changed.emit({ kind: "item", index: this.items.length - 1 });
      return;
    }
    if (output.output_type === "stream") {
      const stream: StreamOutput = { ...output, text: "", lines: 0 };
      appendStream(stream, output.text);
      output = stream;
    }
    this.items.push(output);
    this.changed.emit({ kind: "item", index: this.items.length - 1 });
  }

  /** `clear_output`; with `wait`, the clearing happens when the next output arrives. */
  clear(wait = false): void {
    if (wait) {
      this.clearOnNext = true;
      return;
    }
    this.clearOnNext = false;
    if (this.items.length === 0) return;
    this.items = [];
    this.changed.emit({ kind: "reset" });
  }

  replaceAll(outputs: Output[]): void {
    this.clearOnNext = false;
    this.items = [];
    for (const output of outputs) {
      if (output.output_type === "stream") this.add(output);
      else this.items.push(output);
    }
    this.changed.emit({ kind: "reset" });
  }

  /** `update_display_data`: returns whether any output here carried the display id. */
  updateDisplay(displayId: string, data: MimeBundle, metadata: Record<string, unknown>): boolean {
    let found = false;
    this.items.forEach((output, index) => {
      if (output.output_type !== "stream" && output.output_type !== "error" && output.displayId === displayId) {
        output.data = data;
        output.metadata = metadata;
        found = true;
        this.changed.emit({ kind: "item", index });
      }
    });
    return found;
  }

  private applyPendingClear(): void {
    if (!this.clearOnNext) return;
    this.clearOnNext = false;
    if (this.items.length > 0) {
      this.items = [];
      this.changed.emit({ kind: "reset" });
    }
  }
}

/**
 * Appends stream text the way a terminal shows it: `\r` returns to the start of the line, so
 * progress bars overwrite themselves. Only the last line of the old text can be affected.
 */
export function appendStream(stream: StreamOutput, chunk: string): void {
  if (chunk.includes("\r")) {
    const lineStart = stream.text.lastIndexOf("\n") + 1;
    const tail = (stream.text.slice(lineStart) + chunk).replace(/\r+\n/g, "\n").replace(/[^\n]*\r(?=[^\r\n])/g, "");
    stream.text = stream.text.slice(0, lineStart) + tail;
  } else {
    stream.text += chunk;
  }
  stream.lines = (stream.lines ?? 0) + countNewlines(chunk);
}

export function countNewlines(text: string): number {
  let count = 0;
  for (let i = text.indexOf("\n"); i >= 0; i = text.indexOf("\n", i + 1)) count++;
  return count;
}
