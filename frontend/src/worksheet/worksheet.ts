/** The ordered cells of a worksheet, the structural edits on them, and undo of deletions. */
import { DEFAULT_KERNEL } from "../kernel/kinds";
import { Signal } from "../util/signal";
import { Cell } from "./cell";

export type WorksheetChange =
  | { kind: "insert"; index: number; cell: Cell }
  | { kind: "remove"; index: number; cell: Cell }
  | { kind: "move"; from: number; to: number; cell: Cell }
  | { kind: "reset" };

export class Worksheet {
  readonly changed = new Signal<WorksheetChange>();
  /** Anything worth saving changed: structure, a source, an output, the title. */
  readonly contentChanged = new Signal<void>();
  /** The worksheet is for another kernel now (its cells' choice of languages changes). */
  readonly kernelChanged = new Signal<string>();
  private _cells: Cell[] = [];
  private _title = "Untitled";
  private _kernelName = DEFAULT_KERNEL;
  private deleted: { cell: Cell; index: number }[] = [];
  private watchers = new Map<Cell, () => void>();

  get cells(): readonly Cell[] {
    return this._cells;
  }

  get title(): string {
    return this._title;
  }

  set title(title: string) {
    this._title = title.trim() || "Untitled";
    this.contentChanged.emit();
  }

  /** The kernel spec the worksheet's code is written for (`python3`, `sage`). */
  get kernelName(): string {
    return this._kernelName;
  }

  set kernelName(name: string) {
    const changed = name !== this._kernelName;
    this._kernelName = name;
    if (changed) this.kernelChanged.emit(name);
    this.contentChanged.emit();
  }

  /** Nothing to lose: every cell is blank and has no output. */
  get isBlank(): boolean {
    return this._cells.every((cell) => cell.source.trim() === "" && cell.outputs.length === 0);
  }

  get canUndoDelete(): boolean {
    return this.deleted.length > 0;
  }

  indexOf(cell: Cell): number {
    return this._cells.indexOf(cell);
  }

  insert(index: number, cell: Cell = new Cell()): Cell {
    index = Math.max(0, Math.min(index, this._cells.length));
    this._cells.splice(index, 0, cell);
    this.watch(cell);
    this.changed.emit({ kind: "insert", index, cell });
    this.contentChanged.emit();
    return cell;
  }

  remove(cell: Cell): void {
    const index = this.indexOf(cell);
    if (index < 0) return;
    this._cells.splice(index, 1);
    this.unwatch(cell);
    this.deleted.push({ cell, index });
    if (this.deleted.length > 50) this.deleted.shift();
    this.changed.emit({ kind: "remove", index, cell });
    this.contentChanged.emit();
  }

  /** Puts the most recently deleted cell back where it was. */
  undoDelete(): Cell | null {
    const last = this.deleted.pop();
    return last ? this.insert(last.index, last.cell) : null;
  }

  move(cell: Cell, delta: number): boolean {
    const from = this.indexOf(cell);
    const to = from + delta;
    if (from < 0 || to < 0 || to >= this._cells.length) return false;
    this._cells.splice(from, 1);
    this._cells.splice(to, 0, cell);
    this.changed.emit({ kind: "move", from, to, cell });
    this.contentChanged.emit();
    return true;
  }

  replaceAll(cells: Cell[], title: string): void {
    for (const cell of this._cells) this.unwatch(cell);
    this._cells = [...cells];
    for (const cell of this._cells) this.watch(cell);
    this.deleted = [];
    this._title = title || "Untitled";
    this.changed.emit({ kind: "reset" });
    this.contentChanged.emit();
  }

  private watch(cell: Cell): void {
    const save = (): void => this.contentChanged.emit();
    const offCell = cell.changed.connect((change) => {
      if (change !== "input" && change !== "runState") save();
    });
    const offOutputs = cell.outputs.changed.connect(save);
    this.watchers.set(cell, () => {
      offCell();
      offOutputs();
    });
  }

  private unwatch(cell: Cell): void {
    this.watchers.get(cell)?.();
    this.watchers.delete(cell);
  }
}
