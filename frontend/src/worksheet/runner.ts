/**
 * Runs cells on the kernel: sends execute_request, turns the replies and iopub messages of each
 * request into the cell's run state, execution count, outputs and input() prompts.
 */
import type { KernelConnection } from "../kernel/connection";
import { codeInLanguage } from "../kernel/kinds";
import type { KernelMessage } from "../kernel/messages";
import type { Cell } from "./cell";
import type { Worksheet } from "./worksheet";

export class Runner {
  constructor(
    private readonly kernel: KernelConnection,
    private readonly worksheet: Worksheet,
  ) {
    // A display may be updated from any later cell (or thread), so updates are matched globally.
    kernel.iopub.connect((message) => {
      if (message.header.msg_type !== "update_display_data") return;
      const displayId = message.content.transient?.display_id as string | undefined;
      if (!displayId) return;
      for (const cell of worksheet.cells) cell.outputs.updateDisplay(displayId, message.content.data, message.content.metadata ?? {});
    });
  }

  run(cell: Cell): void {
    if (cell.type !== "code") return;
    cell.outputs.clear();
    cell.inputRequest = null;
    cell.runState = "queued";
    this.kernel.execute(codeInLanguage(cell.source, cell.language, this.kernel.kernelName), {
      onIOPub: (message) => this.onIOPub(cell, message),
      onReply: (reply) => {
        const content = reply.content;
        if (typeof content.execution_count === "number") cell.executionCount = content.execution_count;
        for (const payload of content.payload ?? []) {
          if (payload.source === "page" && payload.data) {
            cell.outputs.add({ output_type: "display_data", data: payload.data, metadata: {} });
          }
        }
        if (content.status === "aborted") cell.runState = "idle";
      },
      onStdin: (message) => {
        if (message.header.msg_type !== "input_request") return;
        cell.inputRequest = { prompt: message.content.prompt ?? "", password: !!message.content.password, message };
      },
      onAbandoned: () => {
        cell.runState = "idle";
        cell.inputRequest = null;
      },
    });
  }

  runAll(): void {
    for (const cell of this.worksheet.cells) this.run(cell);
  }

  answerInput(cell: Cell, value: string): void {
    const request = cell.inputRequest;
    if (!request) return;
    this.kernel.replyToInput(value, request.message);
    const shown = request.password ? "········" : value;
    cell.outputs.add({ output_type: "stream", name: "stdout", text: `${request.prompt}${shown}\n` });
    cell.inputRequest = null;
  }

  clearAllOutputs(): void {
    for (const cell of this.worksheet.cells) {
      cell.outputs.clear();
      if (cell.runState === "idle") cell.executionCount = null;
    }
  }

  private onIOPub(cell: Cell, message: KernelMessage): void {
    const content = message.content;
    switch (message.header.msg_type) {
      case "status":
        if (content.execution_state === "busy") cell.runState = "running";
        else if (content.execution_state === "idle") {
          cell.runState = "idle";
          cell.inputRequest = null;
        }
        break;
      case "execute_input":
        cell.executionCount = content.execution_count ?? null;
        break;
      case "stream":
        cell.outputs.add({ output_type: "stream", name: content.name === "stderr" ? "stderr" : "stdout", text: content.text ?? "" });
        break;
      case "display_data":
        cell.outputs.add({
          output_type: "display_data",
          data: content.data ?? {},
          metadata: content.metadata ?? {},
          displayId: content.transient?.display_id,
        });
        break;
      case "execute_result":
        cell.outputs.add({
          output_type: "execute_result",
          data: content.data ?? {},
          metadata: content.metadata ?? {},
          execution_count: content.execution_count ?? null,
          displayId: content.transient?.display_id,
        });
        break;
      case "error":
        cell.outputs.add({ output_type: "error", ename: content.ename, evalue: content.evalue, traceback: content.traceback ?? [] });
        break;
      case "clear_output":
        cell.outputs.clear(!!content.wait);
        break;
    }
  }
}
