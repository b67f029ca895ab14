/**
 * The editor's Tab completion and Shift+Tab documentation, answered by a kernel: the same for
 * the worksheet's cells and for embedded ones. Cursor offsets travel as code points (the
 * Jupyter protocol's unit), the editor counts UTF-16 units.
 */
import type { KernelConnection } from "../kernel/connection";
import { fromCodePoints, toCodePoints } from "../kernel/messages";
import type { CompletionReply, EditorHooks } from "./editor";

export class KernelHints implements Pick<EditorHooks, "complete" | "inspect"> {
  constructor(private readonly kernel: KernelConnection) {}

  async complete(code: string, cursor: number): Promise<CompletionReply | null> {
    const reply = await this.kernel.request("complete_request", { code, cursor_pos: toCodePoints(code, cursor) });
    const content = reply.content;
    if (content.status !== "ok") return null;
    const types = (content.metadata?._jupyter_types_experimental ?? []) as { text: string; type?: string }[];
    const typeOf = new Map(types.map((t) => [t.text, t.type]));
    return {
      from: fromCodePoints(code, content.cursor_start),
      to: fromCodePoints(code, content.cursor_end),
      options: (content.matches as string[]).map((label) => ({ label, type: typeOf.get(label) })),
    };
  }

  async inspect(code: string, cursor: number): Promise<string | null> {
    const reply = await this.kernel.request("inspect_request", { code, cursor_pos: toCodePoints(code, cursor), detail_level: 0 });
    const content = reply.content;
    if (content.status !== "ok" || !content.found) return null;
    return String(content.data?.["text/plain"] ?? "");
  }
}
