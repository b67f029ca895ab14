/**
 * A worksheet's history: the versions the server keeps (recent ones densely, older ones
 * sparsely), each of which can be looked at and restored. Restoring saves the old version as
 * the newest one, so what it replaces stays in the history too.
 */
import { fromNotebook } from "../notebook/ipynb";
import { h } from "../util/dom";
import type { VersionInfo } from "./contentsApi";
import type { ServerStore } from "./serverStore";
import { SidePanel } from "./sidePanel";

export class HistoryPanel extends SidePanel {
  private readonly list: HTMLElement;
  private readonly preview: HTMLElement;

  constructor(
    private readonly store: ServerStore,
    private readonly say: (text: string) => void,
  ) {
    const list = h("ol", { className: "worksheet-versions" });
    const preview = h("pre", { className: "version-preview", hidden: true });
    super("History", "history-panel", list, preview);
    this.list = list;
    this.preview = preview;
  }

  async refresh(): Promise<void> {
    this.preview.hidden = true;
    if (this.store.path === null) {
      this.list.replaceChildren(h("li", {}, "Not saved yet."));
      return;
    }
    const versions = await this.store.api.history(this.store.path);
    this.list.replaceChildren(...versions.map((version, index) => this.row(version, index === 0)));
  }

  private row(version: VersionInfo, newest: boolean): HTMLElement {
    const when = new Date(version.created).toLocaleString();
    const label = `Version ${version.number}, ${when}`;
    return h(
      "li",
      { "data-version": String(version.number) },
      h("span", {}, label, version.checkpoint ? " (checkpoint)" : "", newest ? " (current)" : ""),
      h("button", { type: "button", className: "link", "aria-label": `Show ${label}`, onclick: () => void this.show(version.number) }, "Show"),
      newest
        ? null
        : h("button", { type: "button", className: "link", "aria-label": `Restore ${label}`, onclick: () => void this.restore(version.number) }, "Restore"),
    );
  }

  private async show(number: number): Promise<void> {
    if (this.store.path === null) return;
    const { cells } = fromNotebook(await this.store.api.version(this.store.path, number));
    this.preview.textContent = cells.map((cell) => cell.source).join("\n\n────\n\n");
    this.preview.hidden = false;
  }

  private async restore(number: number): Promise<void> {
    if (this.store.path === null) return;
    await this.store.saveNow();
    try {
      this.store.restored(await this.store.api.restore(this.store.path, number, this.store.etag));
      this.say(`Restored version ${number}; the version it replaced stays in the history.`);
    } catch (error) {
      this.say((error as Error).message);
    }
    await this.refresh();
  }
}
