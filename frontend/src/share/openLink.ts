/** What the page was opened with — a permalink's code (`/s/{id}`) or code in the address — and
 * what the Share button shares. A linked worksheet is kept apart from the person's own. */
import { codeInLanguage, languageOfCode } from "../kernel/kinds";
import type { WorksheetView } from "../view/worksheetView";
import { Cell } from "../worksheet/cell";
import type { Runner } from "../worksheet/runner";
import type { Worksheet } from "../worksheet/worksheet";
import { codeInAddress, type LinkedCode } from "./links";
import { sharedCodeOfPage } from "./permalinks";

export const SHARED_TITLE = "Shared code";

export function linkedCode(): LinkedCode | null {
  const shared = sharedCodeOfPage();
  if (shared) return { code: Promise.resolve(shared.code), run: shared.run, kernelName: shared.kernelName, language: "" };
  return codeInAddress(new URL(location.href));
}

/** Put the linked code in the worksheet's one cell, and run it when the link asks so. */
export async function openLinked(linked: LinkedCode, worksheet: Worksheet, view: WorksheetView, runner: Runner): Promise<string> {
  let code: string;
  try {
    code = await linked.code;
  } catch {
    code = "# This link's code could not be read: the link is damaged or incomplete.";
  }
  const { language, source } = languageOfCode(code, worksheet.kernelName);
  const cell = new Cell("code", source);
  cell.language = linked.language || language;
  worksheet.replaceAll([cell], SHARED_TITLE);
  view.focusSelected();
  if (linked.run) runner.runAll();
  return worksheet.title;
}

/** The selected code cell's code, or every code cell's when none is selected; a cell in
 * another language than the kernel's behind its cell magic (`%%gp`). */
export function codeToShare(worksheet: Worksheet, view: WorksheetView): string {
  const code = (cell: Cell): string => codeInLanguage(cell.source, cell.language, worksheet.kernelName);
  const selected = view.selectedCell;
  if (selected?.type === "code") return code(selected);
  return worksheet.cells
    .filter((cell) => cell.type === "code")
    .map(code)
    .join("\n\n");
}

/** A link pasted into the address bar of an open worksheet changes only the hash: open it. */
export function reopenOnLinkedHash(): void {
  window.addEventListener("hashchange", () => {
    if (codeInAddress(new URL(location.href))) location.reload();
  });
}
