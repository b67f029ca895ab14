/** A table of rows, rebuilt whole on each refresh: the admin view's lists are short. */
import { h } from "../util/dom";

export type Cell = Node | string;

export interface Column<T> {
  title: string;
  cell: (row: T) => Cell;
}

export function table<T>(label: string, columns: Column<T>[], rows: T[], key: (row: T) => string): HTMLTableElement {
  const head = h("tr", {}, ...columns.map((column) => h("th", { scope: "col" }, column.title)));
  const body = rows.map((row) =>
    h("tr", { "data-key": key(row) }, ...columns.map((column) => h("td", {}, column.cell(row)))),
  );
  const empty = h("tr", {}, h("td", { colspan: columns.length, className: "admin-empty" }, "None"));
  return h("table", { className: "admin-table", "aria-label": label }, h("thead", {}, head), h("tbody", {}, ...(rows.length ? body : [empty])));
}

/** A small button in a row: ``act`` runs it, and the view refreshes after. */
export function action(label: string, act: () => Promise<unknown>, run: (act: () => Promise<unknown>) => void): HTMLButtonElement {
  return h("button", { type: "button", className: "admin-action", onclick: () => run(act) }, label);
}
