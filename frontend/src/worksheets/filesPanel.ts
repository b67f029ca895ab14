/**
 * The person's files, kept on the server beside their worksheets (docs/files.md): a panel
 * that lists a folder's files and folders and uploads (by button, or by dropping files on
 * it), downloads, renames, deletes and makes folders. The files are the kernel's working
 * directory, so a file uploaded here is read in a cell by its name. A refusal (the quota
 * above all) is shown in the panel and as a notice, in the hub's own words. Below the files,
 * the cloud folders linked to folders of them (cloudPanel.ts).
 */
import { h } from "../util/dom";
import { CloudApi } from "./cloudApi";
import { CloudPanel } from "./cloudPanel";
import type { ContentsApi, EntryModel } from "./contentsApi";
import { SidePanel } from "./sidePanel";

/** Bytes of a file sent in one request; bigger files go in pieces (Jupyter's `chunk`). */
const PIECE = 4 * 1024 * 1024;

function base64Of(bytes: Uint8Array): string {
  let text = "";
  for (let at = 0; at < bytes.length; at += 0x8000) text += String.fromCharCode(...bytes.subarray(at, at + 0x8000));
  return btoa(text);
}

function join(folder: string, name: string): string {
  return folder ? `${folder}/${name}` : name;
}

export class FilesPanel extends SidePanel {
  private readonly list: HTMLElement;
  private readonly message: HTMLElement;
  private readonly where: HTMLElement;
  private readonly cloud: CloudPanel;
  private folder = "";

  constructor(
    private readonly api: ContentsApi,
    private readonly say: (text: string) => void,
  ) {
    const upload = h("button", { type: "button", onclick: () => this.pick() }, "Upload");
    const folderButton = h("button", { type: "button" }, "New folder");
    const where = h("p", { className: "files-folder" });
    const message = h("p", { className: "files-message", role: "alert", hidden: true });
    const list = h("ul", { className: "file-entries" });
    const hint = h("p", { className: "files-hint" }, "Drop files here to upload them. Code reads them by name.");
    super("Files", "files-panel", upload, folderButton, where, message, list, hint);
    this.list = list;
    this.message = message;
    this.where = where;
    this.cloud = new CloudPanel(new CloudApi(api.baseUrl), () => this.attempt(async () => undefined), say);
    this.element.append(this.cloud.element);
    folderButton.addEventListener("click", () => void this.attempt(() => this.makeFolder()));
    this.element.addEventListener("dragover", (event) => {
      event.preventDefault();
      this.element.classList.add("dropping");
    });
    this.element.addEventListener("dragleave", () => this.element.classList.remove("dropping"));
    this.element.addEventListener("drop", (event) => {
      event.preventDefault();
      this.element.classList.remove("dropping");
      void this.uploadAll(Array.from(event.dataTransfer?.files ?? []));
    });
  }

  /** The folder's files and the cloud links, as the panel opens. */
  async refresh(): Promise<void> {
    await Promise.all([this.showFolder(), this.cloud.refresh()]);
  }

  private async showFolder(): Promise<void> {
    const entries = (await this.api.list(this.folder)).filter((entry) => entry.type !== "notebook");
    entries.sort((a, b) => Number(b.type === "directory") - Number(a.type === "directory") || a.name.localeCompare(b.name));
    const up = this.folder ? [h("li", {}, h("a", { href: "#", onclick: (event) => this.open(event, this.parent()) }, "⬑ up"))] : [];
    this.where.textContent = `/${this.folder}`;
    this.list.replaceChildren(...up, ...entries.map((entry) => this.row(entry)));
  }

  private parent(): string {
    return this.folder.includes("/") ? this.folder.slice(0, this.folder.lastIndexOf("/")) : "";
  }

  private row(entry: EntryModel): HTMLElement {
    const act = (label: string, run: () => Promise<void>): HTMLButtonElement =>
      h("button", { type: "button", className: "link", "aria-label": `${label} ${entry.name}`, onclick: () => void this.attempt(run) }, label);
    const folder = entry.type === "directory";
    const name = folder
      ? h("a", { href: "#", onclick: (event) => this.open(event, entry.path) }, `${entry.name}/`)
      : h("a", { href: this.api.fileUrl(entry.path), download: entry.name }, entry.name);
    return h(
      "li",
      { "data-path": entry.path },
      name,
      act("Rename", () => this.rename(entry)),
      act("Delete", () => this.remove(entry)),
    );
  }

  private open(event: Event, folder: string): void {
    event.preventDefault();
    this.folder = folder;
    void this.attempt(async () => undefined);
  }

  private async attempt(run: () => Promise<void>): Promise<void> {
    try {
      await run();
      this.message.hidden = true;
    } catch (error) {
      this.show((error as Error).message);
    }
    await this.showFolder().catch((error: Error) => this.show(error.message));
  }

  private show(text: string): void {
    this.message.textContent = text;
    this.message.hidden = false;
    this.say(text);
  }

  /** The browser's file chooser, from an input made for it alone: the page keeps no second
   * file input beside the notebook toolbar's. */
  private pick(): void {
    const picker = h("input", { type: "file", multiple: true });
    picker.addEventListener("change", () => void this.uploadAll(Array.from(picker.files ?? [])));
    picker.click();
  }

  async uploadAll(files: File[]): Promise<void> {
    await this.attempt(async () => {
      for (const file of files) await this.upload(file);
    });
  }

  private async upload(file: File): Promise<void> {
    const path = join(this.folder, file.name);
    if (file.size <= PIECE) {
      await this.api.upload(path, base64Of(new Uint8Array(await file.arrayBuffer())));
      return;
    }
    for (let at = 0, number = 1; at < file.size; at += PIECE, number++) {
      const piece = new Uint8Array(await file.slice(at, at + PIECE).arrayBuffer());
      await this.api.upload(path, base64Of(piece), at + PIECE >= file.size ? -1 : number);
    }
  }

  private async makeFolder(): Promise<void> {
    const name = prompt("New folder's name:");
    if (name) await this.api.makeFolder(join(this.folder, name));
  }

  private async rename(entry: EntryModel): Promise<void> {
    const name = prompt(`Rename ${entry.name} to:`, entry.name);
    if (name && name !== entry.name) await this.api.rename(entry.path, join(this.folder, name));
  }

  private async remove(entry: EntryModel): Promise<void> {
    if (confirm(`Delete ${entry.name}${entry.type === "directory" ? " and everything in it" : ""}?`)) await this.api.remove(entry.path);
  }
}
