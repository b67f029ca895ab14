/**
 * The person's worksheets, kept on the server: a panel that lists them (newest first) and
 * opens, creates, renames, duplicates and deletes them. Opening one loads the page for it
 * (`?worksheet=path`): the worksheet it leaves is saved first, and its kernel lives on for
 * `page_kernel_grace`, so that coming back reattaches to it.
 */
import { h } from "../util/dom";
import type { EntryModel } from "./contentsApi";
import { fileNameFor, nameOf, type ServerStore } from "./serverStore";
import { SidePanel } from "./sidePanel";

export class WorksheetList extends SidePanel {
  private readonly list: HTMLElement;

  constructor(
    private readonly store: ServerStore,
    private readonly say: (text: string) => void,
    /** The page's title follows a rename of the open worksheet. */
    private readonly retitle: (title: string) => void,
  ) {
    const list = h("ul", { className: "worksheet-entries" });
    const create = h("button", { type: "button" }, "New worksheet");
    super("Worksheets", "worksheet-list", create, list);
    create.addEventListener("click", () => void this.create().catch((error: Error) => say(error.message)));
    this.list = list;
  }

  async refresh(): Promise<void> {
    const entries = (await this.store.api.list()).filter((entry) => entry.type === "notebook");
    entries.sort((a, b) => b.last_modified.localeCompare(a.last_modified));
    this.list.replaceChildren(...entries.map((entry) => this.row(entry)));
  }

  private row(entry: EntryModel): HTMLElement {
    const current = entry.path === this.store.path;
    const act = (label: string, run: () => Promise<void>): HTMLButtonElement =>
      h("button", { type: "button", className: "link", "aria-label": `${label} ${nameOf(entry.path)}`, onclick: () => void this.attempt(run) }, label);
    return h(
      "li",
      { "aria-current": current ? "true" : null },
      h("a", { href: `?worksheet=${encodeURIComponent(entry.path)}`, onclick: (event) => this.go(event, entry.path) }, nameOf(entry.path)),
      act("Rename", () => this.rename(entry)),
      act("Duplicate", async () => void (await this.store.api.duplicate(entry.path))),
      current ? null : act("Delete", () => this.remove(entry)),
    );
  }

  private async attempt(run: () => Promise<void>): Promise<void> {
    try {
      await run();
    } catch (error) {
      this.say((error as Error).message);
    }
    await this.refresh();
  }

  /** Open a worksheet: save this one first, then load the page for that one. */
  go(event: Event | null, path: string): void {
    event?.preventDefault();
    void this.store.saveNow().finally(() => {
      const url = new URL(location.href);
      url.searchParams.set("worksheet", path);
      location.assign(url);
    });
  }

  async create(): Promise<void> {
    const created = await this.store.api.createUntitled();
    this.go(null, created.model.path);
  }

  private async rename(entry: EntryModel): Promise<void> {
    const title = prompt("Rename the worksheet to:", nameOf(entry.path));
    if (!title) return;
    if (entry.path === this.store.path) {
      // The open worksheet: the page follows it to its new name (and takes it as its title).
      await this.store.saveNow();
      if (!(await this.store.renameTo(title))) throw new Error(`A worksheet named "${title}" exists already.`);
      this.retitle(title);
      return;
    }
    const folder = entry.path.includes("/") ? entry.path.slice(0, entry.path.lastIndexOf("/") + 1) : "";
    await this.store.api.rename(entry.path, folder + fileNameFor(title));
  }

  private async remove(entry: EntryModel): Promise<void> {
    if (confirm(`Delete the worksheet "${nameOf(entry.path)}" and its history?`)) await this.store.api.remove(entry.path);
  }
}
