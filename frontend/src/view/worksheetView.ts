/**
 * The list of cells on the page: keeps one CellView per Cell in model order, tracks the
 * selected cell, and carries out cell actions (run, insert, delete with undo, move, copy/paste).
 */
import { installCommandMode, type Commands } from "../keyboard/shortcuts";
import type { KernelConnection } from "../kernel/connection";
import { Cell, type CellType } from "../worksheet/cell";
import type { Runner } from "../worksheet/runner";
import type { Worksheet, WorksheetChange } from "../worksheet/worksheet";
import { h } from "../util/dom";
import type { CompletionReply, RunMode } from "./editor";
import { CellView, type CellActions } from "./cellView";
import { confirmRestart } from "./kernelBar";
import { KernelHints } from "./kernelHints";
import type { Notices } from "./notices";

export class WorksheetView implements CellActions {
  readonly element: HTMLElement;
  private readonly list: HTMLElement;
  private views = new Map<Cell, CellView>();
  private selected: Cell | null = null;
  private clipboard: { type: CellType; source: string; language: string } | null = null;
  private readonly hints: KernelHints;

  constructor(
    private readonly worksheet: Worksheet,
    private readonly runner: Runner,
    private readonly kernel: KernelConnection,
    private readonly notices: Notices,
  ) {
    this.hints = new KernelHints(kernel);
    this.list = h("div", { className: "cells" });
    const addCell = h(
      "button",
      { type: "button", className: "add-cell", onclick: () => this.appendCell() },
      "+ Add cell",
    );
    this.element = h("main", { id: "worksheet", className: "worksheet", "aria-label": "Worksheet" }, this.list, addCell);
    worksheet.changed.connect((change) => this.onChange(change));
    worksheet.kernelChanged.connect((name) => {
      for (const view of this.views.values()) view.setKernel(name);
    });
    installCommandMode(this.list, this.commands());
    this.onChange({ kind: "reset" });
  }

  get selectedCell(): Cell | null {
    return this.selected;
  }

  viewOf(cell: Cell): CellView | undefined {
    return this.views.get(cell);
  }

  focusSelected(edit = false): void {
    const cell = this.selected ?? this.worksheet.cells[0];
    if (!cell) return;
    this.select(cell);
    if (edit) this.views.get(cell)?.edit("end");
    else this.views.get(cell)?.focusCell();
  }

  appendCell(): void {
    const cell = this.worksheet.insert(this.worksheet.cells.length, new Cell("code"));
    this.select(cell);
    this.views.get(cell)?.edit();
  }

  renderAllMarkdown(): void {
    for (const view of this.views.values()) view.renderMarkdown();
  }

  // ---- CellActions -------------------------------------------------------------------------

  run(cell: Cell, mode: RunMode): void {
    const view = this.views.get(cell);
    if (cell.type === "markdown") view?.renderMarkdown();
    else this.runner.run(cell);
    const index = this.worksheet.indexOf(cell);
    if (mode === "stay") {
      if (cell.type === "markdown") view?.focusCell();
      return;
    }
    let next = mode === "next" ? this.worksheet.cells[index + 1] : undefined;
    if (!next) next = this.worksheet.insert(index + 1, new Cell("code"));
    this.select(next);
    const nextView = this.views.get(next);
    if (next.type === "markdown" && !nextView?.isEditingMarkdown) nextView?.focusCell();
    else nextView?.edit("end");
  }

  insertNear(cell: Cell, offset: 0 | 1): void {
    const inserted = this.worksheet.insert(this.worksheet.indexOf(cell) + offset, new Cell("code"));
    this.select(inserted);
    this.views.get(inserted)?.edit();
  }

  remove(cell: Cell): void {
    const index = this.worksheet.indexOf(cell);
    this.worksheet.remove(cell);
    if (this.worksheet.cells.length === 0) this.worksheet.insert(0, new Cell("code"));
    const neighbour = this.worksheet.cells[Math.min(index, this.worksheet.cells.length - 1)];
    this.select(neighbour);
    this.views.get(neighbour)?.focusCell();
    this.notices.show("Cell deleted.", { label: "Undo", run: () => this.undoDelete() });
    this.notices.announce("Cell deleted. Press Z to undo.");
  }

  undoDelete(): void {
    const cell = this.worksheet.undoDelete();
    if (!cell) return;
    this.select(cell);
    this.views.get(cell)?.focusCell();
    this.notices.announce("Cell restored.");
  }

  move(cell: Cell, delta: number): void {
    if (!this.worksheet.move(cell, delta)) return;
    this.views.get(cell)?.focusCell();
    this.notices.announce(`Cell moved to position ${this.worksheet.indexOf(cell) + 1}.`);
  }

  setType(cell: Cell, type: CellType): void {
    cell.type = type;
    if (type === "markdown") this.views.get(cell)?.editMarkdown();
  }

  select(cell: Cell): void {
    if (this.selected === cell) return;
    if (this.selected) this.views.get(this.selected)?.setSelected(false);
    this.selected = cell;
    this.views.get(cell)?.setSelected(true);
  }

  leaveEditor(cell: Cell): void {
    this.select(cell);
    this.views.get(cell)?.focusCell();
  }

  arrowOut(cell: Cell, direction: -1 | 1): boolean {
    const next = this.worksheet.cells[this.worksheet.indexOf(cell) + direction];
    if (!next) return false;
    this.select(next);
    const view = this.views.get(next);
    if (next.type === "markdown" && !view?.isEditingMarkdown) view?.focusCell();
    else view?.edit(direction > 0 ? "start" : "end");
    return true;
  }

  answerInput(cell: Cell, value: string): void {
    this.runner.answerInput(cell, value);
    this.views.get(cell)?.edit();
  }

  complete(code: string, cursor: number): Promise<CompletionReply | null> {
    return this.hints.complete(code, cursor);
  }

  inspect(code: string, cursor: number): Promise<string | null> {
    return this.hints.inspect(code, cursor);
  }

  // ---- keyboard command mode --------------------------------------------------------------

  private commands(): Commands {
    const withCell = (action: (cell: Cell) => void) => (): void => {
      if (this.selected) action(this.selected);
    };
    return {
      edit: withCell((cell) => this.views.get(cell)?.edit()),
      selectNeighbour: (direction) =>
        withCell((cell) => {
          const next = this.worksheet.cells[this.worksheet.indexOf(cell) + direction];
          if (!next) return;
          this.select(next);
          this.views.get(next)?.focusCell();
        })(),
      insert: (offset) => withCell((cell) => this.insertNear(cell, offset))(),
      remove: withCell((cell) => this.remove(cell)),
      undoDelete: () => this.undoDelete(),
      setType: (type) =>
        withCell((cell) => {
          cell.type = type;
          this.views.get(cell)?.focusCell();
        })(),
      copy: withCell((cell) => {
        this.clipboard = { type: cell.type, source: cell.source, language: cell.language };
        this.notices.announce("Cell copied.");
      }),
      cut: withCell((cell) => {
        this.clipboard = { type: cell.type, source: cell.source, language: cell.language };
        this.remove(cell);
      }),
      paste: withCell((cell) => {
        if (!this.clipboard) return;
        const copy = new Cell(this.clipboard.type, this.clipboard.source);
        copy.language = this.clipboard.language;
        const pasted = this.worksheet.insert(this.worksheet.indexOf(cell) + 1, copy);
        this.select(pasted);
        this.views.get(pasted)?.renderMarkdown();
        this.views.get(pasted)?.focusCell();
      }),
      move: (delta) => withCell((cell) => this.move(cell, delta))(),
      run: (mode) => withCell((cell) => this.run(cell, mode))(),
      interrupt: () => void this.kernel.interrupt(),
      restart: () => confirmRestart(this.kernel) && void this.kernel.restart(),
    };
  }

  private onChange(change: WorksheetChange): void {
    switch (change.kind) {
      case "reset":
        for (const view of this.views.values()) view.dispose();
        this.views.clear();
        this.list.replaceChildren(...this.worksheet.cells.map((cell) => this.createView(cell).element));
        this.selected = null;
        if (this.worksheet.cells[0]) this.select(this.worksheet.cells[0]);
        break;
      case "insert": {
        const view = this.createView(change.cell);
        this.list.insertBefore(view.element, this.list.children[change.index] ?? null);
        break;
      }
      case "remove":
        this.views.get(change.cell)?.dispose();
        this.views.get(change.cell)?.element.remove();
        this.views.delete(change.cell);
        if (this.selected === change.cell) this.selected = null;
        break;
      case "move": {
        const element = this.views.get(change.cell)?.element;
        if (!element) break;
        const after = this.list.children[change.to < change.from ? change.to : change.to + 1] ?? null;
        this.list.insertBefore(element, after === element ? element.nextSibling : after);
        break;
      }
    }
    this.worksheet.cells.forEach((cell, index) => this.views.get(cell)?.setNumber(index + 1));
  }

  private createView(cell: Cell): CellView {
    const view = new CellView(cell, this, this.worksheet.kernelName);
    this.views.set(cell, view);
    return view;
  }
}
