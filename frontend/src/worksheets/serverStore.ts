/**
 * Keeps the page's worksheet on the server, for a person logged in: the same worksheet opens on
 * every device, and survives the browser. (Anonymous visitors keep theirs in localStorage,
 * notebook/persistence.ts: the hub keeps no worksheets for them.)
 *
 * - **Which worksheet**: the one the address names (`?worksheet=path`), else the one this
 *   browser had open last, else the worksheet this browser kept before it had server
 *   worksheets (localStorage), moved to the server once; else a new blank one, created on the
 *   server at its first change (so opening the page makes no empty "Untitled" worksheets).
 * - **Autosave**: a save ~1 s after the last change, one at a time, each based on the version
 *   the page has (`If-Match`); when the page is hidden, at once; as it goes (pagehide), a
 *   keepalive request when small enough, and always a draft in localStorage that the next
 *   opening of the worksheet saves if the request did not land. Nothing typed is lost.
 * - **Conflicts**: a save the hub refuses (another tab or device saved since) stops autosave
 *   and asks: reload their version, or keep mine (saved over theirs, which stays in history).
 * - The worksheet's kernel id travels in its metadata (`metadata.cellhub.kernel_id`), so that
 *   reopening it anywhere reattaches to its kernel while that kernel lives.
 */
import { fromNotebook, type Notebook, toNotebook } from "../notebook/ipynb";
import { Cell } from "../worksheet/cell";
import type { Worksheet } from "../worksheet/worksheet";
import { Signal } from "../util/signal";
import { type Conflict, ContentsApi, ContentsError, type Opened, type Saved } from "./contentsApi";

const SAVE_DELAY_MS = 1000;
export const UNTITLED = "Untitled";

export type SaveState = "new" | "saved" | "unsaved" | "saving" | "conflict" | "error";

interface Draft {
  etag: string;
  notebook: Notebook;
}

/** The name a worksheet is shown by: its title when it has one, else its file name. */
export function nameOf(path: string): string {
  return (path.split("/").pop() ?? path).replace(/\.ipynb$/i, "");
}

/** A file name for a title: what file systems and Jupyter take (no slashes, no leading dot). */
export function fileNameFor(title: string): string {
  const base = title.trim().replace(/[/\\\u0000-\u001f]+/g, " ").replace(/^\.+/, "").trim() || UNTITLED;
  return `${base}.ipynb`;
}

export class ServerStore {
  readonly stateChanged = new Signal<SaveState>();
  /** The worksheet now has a path (it was created, renamed or opened). */
  readonly pathChanged = new Signal<string>();
  /** The kernel id the worksheet was saved with when it was opened ("" for none). */
  previousKernel = "";
  path: string | null = null;
  etag = "";
  state: SaveState = "new";
  private timer: ReturnType<typeof setTimeout> | null = null;
  private saving: Promise<void> | null = null;
  private again = false;
  private savedKernel = "";

  constructor(
    readonly api: ContentsApi,
    private readonly worksheet: Worksheet,
    private readonly scope: string,
    private readonly kernelId: () => string | null,
  ) {}

  get legacyKey(): string {
    return `cellhub:worksheet:${this.scope}`;
  }

  private get openKey(): string {
    return `cellhub:open:${this.scope}`;
  }

  private draftKey(path: string): string {
    return `cellhub:draft:${this.scope}:${path}`;
  }

  /** The worksheet this page opens (see the module's contract); returns a notice, if any. */
  async openInitial(): Promise<string> {
    const wanted = new URLSearchParams(location.search).get("worksheet") ?? localStorage.getItem(this.openKey);
    if (wanted) {
      try {
        await this.open(wanted);
        return "";
      } catch (error) {
        if (!(error instanceof ContentsError && error.status === 404)) throw error;
        localStorage.removeItem(this.openKey);
      }
    }
    this.worksheet.replaceAll([new Cell("code")], UNTITLED);
    // A new worksheet the page left before its first save, else the one this browser kept
    // before it had server worksheets.
    if (await this.migrate(this.draftKey(""))) return "";
    const moved = await this.migrate(this.legacyKey);
    return moved && this.path !== null ? `This browser's worksheet is now saved on the server as "${nameOf(this.path)}".` : "";
  }

  /** A worksheet kept in localStorage under `key`, made a server worksheet; false: none. */
  private async migrate(key: string): Promise<boolean> {
    const kept = localStorage.getItem(key);
    if (!kept) return false;
    try {
      const notebook = JSON.parse(kept) as Notebook;
      const { cells } = fromNotebook(notebook);
      if (cells.length === 0 || cells.every((cell) => !cell.source.trim() && cell.outputs.length === 0)) return false;
      this.loadNotebook(notebook, UNTITLED);
      this.previousKernel = this.savedKernel;
      await this.saveNow();
      if (this.path === null) return false;
      localStorage.removeItem(key);
      return true;
    } catch (error) {
      console.warn("cellhub: the worksheet kept in this browser could not be moved to the server", error);
      return false;
    }
  }

  async open(path: string): Promise<void> {
    const opened = await this.api.open(path);
    const draft = this.readDraft(opened.model.path);
    this.load(opened);
    if (draft && JSON.stringify(draft.notebook) !== JSON.stringify(opened.notebook)) {
      this.loadNotebook(draft.notebook, opened.model.path);
      if (draft.etag === opened.etag) this.changed();
      else this.setState("conflict");
    } else this.clearDraft();
  }

  private load(opened: Opened): void {
    this.loadNotebook(opened.notebook, opened.model.path);
    this.previousKernel = this.savedKernel;
    this.etag = opened.etag;
    this.setPath(opened.model.path);
    this.setState("saved");
  }

  private loadNotebook(notebook: Notebook, path: string): void {
    const { cells, title, kernelName } = fromNotebook(notebook);
    this.worksheet.replaceAll(cells.length ? cells : [new Cell("code")], title || nameOf(path));
    this.worksheet.kernelName = kernelName;
    const meta = (notebook.metadata?.cellhub ?? {}) as { kernel_id?: unknown };
    this.savedKernel = typeof meta.kernel_id === "string" ? meta.kernel_id : "";
  }

  /** The page's worksheet becomes a new one, not yet on the server (a file opened into it). */
  startAnew(): void {
    this.path = null;
    this.etag = "";
    this.setState("new");
    const url = new URL(location.href);
    url.searchParams.delete("worksheet");
    history.replaceState(history.state, "", url);
  }

  /** Start saving changes (call once the page is built, so its own set-up is no change). */
  watch(): void {
    this.worksheet.contentChanged.connect(() => this.changed());
    window.addEventListener("pagehide", () => this.leave());
    document.addEventListener("visibilitychange", () => {
      if (document.hidden && this.state === "unsaved") void this.saveNow();
    });
  }

  /** The kernel may have changed (a new one started): the worksheet records it. */
  kernelMayHaveChanged(): void {
    const id = this.kernelId() ?? "";
    if (id && id !== this.savedKernel && this.path !== null) this.changed();
  }

  changed(): void {
    if (this.state === "conflict") return;
    this.setState("unsaved");
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.saveNow(), SAVE_DELAY_MS);
  }

  notebook(): Notebook {
    const notebook = toNotebook(this.worksheet);
    const meta = notebook.metadata.cellhub as Record<string, unknown>;
    const kernel = this.kernelId();
    if (kernel) meta.kernel_id = kernel;
    return notebook;
  }

  /** Save now (after the save under way, if any). */
  async saveNow(): Promise<void> {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    if (this.state === "conflict") return;
    if (this.saving) {
      this.again = true;
      return this.saving;
    }
    this.saving = this.saveOnce().finally(() => {
      this.saving = null;
      if (this.again) {
        this.again = false;
        void this.saveNow();
      }
    });
    return this.saving;
  }

  private async saveOnce(): Promise<void> {
    this.setState("saving");
    try {
      if (this.path === null) await this.create();
      const notebook = this.notebook();
      const done = await this.api.save(this.path as string, notebook, this.etag);
      if ("conflict" in done) {
        this.etag = done.etag;
        this.setState("conflict");
        return;
      }
      this.saved(done, notebook);
    } catch (error) {
      if (error instanceof ContentsError && error.status === 404 && this.path !== null) {
        // Deleted or renamed elsewhere since: what this page holds becomes a new worksheet.
        this.startAnew();
        this.changed();
        return;
      }
      console.warn("cellhub: the worksheet could not be saved", error);
      this.setState("error");
      this.timer = setTimeout(() => void this.saveNow(), 5 * SAVE_DELAY_MS);
    }
  }

  /** The worksheet's first save: a new one on the server, named after its title if free. */
  private async create(): Promise<void> {
    let created = await this.api.createUntitled();
    if (this.worksheet.title !== UNTITLED) {
      created = await this.api
        .rename(created.model.path, fileNameFor(this.worksheet.title))
        .then((model) => ({ ...created, model }))
        .catch(() => created);
    }
    this.etag = created.etag;
    this.setPath(created.model.path);
  }

  private saved(done: Saved, notebook: Notebook): void {
    this.etag = done.etag;
    this.savedKernel = String((notebook.metadata.cellhub as { kernel_id?: string }).kernel_id ?? "");
    this.clearDraft();
    this.setState(this.again || this.timer !== null ? "unsaved" : "saved");
  }

  /** Their version replaces mine (theirs is the newest; mine is lost unless kept). */
  async reload(): Promise<void> {
    if (this.path === null) return;
    this.clearDraft();
    this.load(await this.api.open(this.path));
  }

  /** Mine replaces theirs: saved as the newest version, theirs kept in the history. */
  async keepMine(): Promise<void> {
    this.setState("unsaved");
    await this.saveNow();
  }

  /** A restored version becomes the page's worksheet. */
  restored(opened: Opened | Conflict): void {
    if ("conflict" in opened) {
      this.etag = opened.etag;
      this.setState("conflict");
    } else this.load(opened);
  }

  /** Rename the worksheet's file after its title; false when the name is taken. */
  async renameTo(title: string): Promise<boolean> {
    if (this.path === null) return true;
    const folder = this.path.includes("/") ? this.path.slice(0, this.path.lastIndexOf("/") + 1) : "";
    const target = folder + fileNameFor(title);
    if (target === this.path) return true;
    try {
      this.setPath((await this.api.rename(this.path, target)).path);
      return true;
    } catch (error) {
      if (error instanceof ContentsError && error.status === 409) return false;
      throw error;
    }
  }

  private leave(): void {
    if (this.state !== "unsaved" && this.state !== "saving" && this.state !== "error" && this.state !== "conflict") return;
    const notebook = this.notebook();
    if (this.path === null) {
      localStorage.setItem(this.draftKey(""), JSON.stringify(notebook));
      return;
    }
    try {
      localStorage.setItem(this.draftKey(this.path), JSON.stringify({ etag: this.etag, notebook }));
    } catch {
      // over quota: the keepalive save below is all there is
    }
    if (this.state !== "conflict") this.api.saveAsPageLeaves(this.path, notebook, this.etag);
  }

  private readDraft(path: string): Draft | null {
    try {
      const raw = localStorage.getItem(this.draftKey(path));
      return raw ? (JSON.parse(raw) as Draft) : null;
    } catch {
      return null;
    }
  }

  private clearDraft(): void {
    if (this.path !== null) localStorage.removeItem(this.draftKey(this.path));
  }

  private setPath(path: string): void {
    this.path = path;
    localStorage.setItem(this.openKey, path);
    const url = new URL(location.href);
    url.searchParams.set("worksheet", path);
    history.replaceState(history.state, "", url);
    this.pathChanged.emit(path);
  }

  private setState(state: SaveState): void {
    if (state === this.state) return;
    this.state = state;
    this.stateChanged.emit(state);
  }
}
