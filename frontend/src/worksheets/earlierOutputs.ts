/**
 * Reopened, a worksheet whose kernel has ended gets a new kernel: its outputs were made by
 * another one, whose variables are gone. The page says so once, and marks each such cell's
 * outputs "from an earlier session" until the cell runs again.
 */
import type { Cell } from "../worksheet/cell";
import type { Worksheet } from "../worksheet/worksheet";
import type { WorksheetView } from "../view/worksheetView";

export const NEW_KERNEL_NOTICE =
  "This worksheet's kernel has ended, so a new kernel was started: its variables are gone, and the outputs shown are from an earlier session.";

/** Mark the cells that have outputs; returns how many were marked. */
export function markEarlierOutputs(worksheet: Worksheet, view: WorksheetView): number {
  let marked = 0;
  for (const cell of worksheet.cells) {
    const element = view.viewOf(cell)?.element;
    if (!element || cell.outputs.length === 0) continue;
    element.dataset.earlierSession = "true";
    marked += 1;
    unmarkOnRun(cell, element);
  }
  return marked;
}

function unmarkOnRun(cell: Cell, element: HTMLElement): void {
  const off = cell.changed.connect((change) => {
    if (change === "runState" && cell.runState !== "idle") {
      delete element.dataset.earlierSession;
      off();
    }
  });
}
