/**
 * Keeps the worksheet in localStorage so a reload loses nothing. Saves are throttled (outputs
 * may change hundreds of times a second) and flushed when the page is hidden or closed.
 */
import { Cell } from "../worksheet/cell";
import type { Worksheet } from "../worksheet/worksheet";
import { fromNotebook, toNotebook } from "./ipynb";

const SAVE_DELAY_MS = 500;
const MAX_STREAM_CHARS = 100_000;

export class BrowserStore {
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private readonly worksheet: Worksheet,
    private readonly key: string,
  ) {}

  /** Loads the saved worksheet (or one empty cell) and starts saving changes. */
  restore(): void {
    let restored = false;
    try {
      const saved = localStorage.getItem(this.key);
      if (saved) {
        const { cells, title, kernelName } = fromNotebook(JSON.parse(saved));
        if (cells.length > 0) {
          this.worksheet.replaceAll(cells, title);
          this.worksheet.kernelName = kernelName;
          restored = true;
        }
      }
    } catch (error) {
      console.warn("cellhub: the saved worksheet could not be read", error);
    }
    if (!restored) this.worksheet.replaceAll([new Cell("code")], "Untitled");
    this.worksheet.contentChanged.connect(() => this.schedule());
    const flush = (): void => this.saveNow();
    window.addEventListener("pagehide", flush);
    document.addEventListener("visibilitychange", () => {
      if (document.hidden) flush();
    });
  }

  schedule(): void {
    if (this.timer === null) this.timer = setTimeout(() => this.saveNow(), SAVE_DELAY_MS);
  }

  saveNow(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    const notebook = toNotebook(this.worksheet, { maxStreamChars: MAX_STREAM_CHARS });
    try {
      localStorage.setItem(this.key, JSON.stringify(notebook));
    } catch {
      // Over quota (large images, say): keeping the code matters more than keeping outputs.
      for (const cell of notebook.cells) {
        if (cell.cell_type === "code") cell.outputs = [];
      }
      try {
        localStorage.setItem(this.key, JSON.stringify(notebook));
      } catch (error) {
        console.warn("cellhub: the worksheet could not be saved in this browser", error);
      }
    }
  }
}
