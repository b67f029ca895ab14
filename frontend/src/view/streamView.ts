/**
 * A stdout/stderr stream that may grow to millions of lines or one line of many megabytes. The
 * page shows a bounded window of it (render/streamWindow.ts: the first lines, the last lines,
 * long lines cut) with a notice in the gap — "… K lines hidden · Show all · Download" — as
 * JupyterLab and VS Code limit their outputs; the full text stays in the model. "Show all" is
 * offered while the whole text is small enough to lay out without freezing the page; "Download"
 * always (a Blob URL of the full text). Updates come at most once per animation frame
 * (OutputView), and each re-renders only the part of the window that changed, so the cost of
 * a frame does not grow with the stream. Past COLLAPSE_LINES the text sits in a scroll box that
 * follows the end while the person has not scrolled up, and can be expanded.
 */
import { hasAnsi, renderAnsi } from "../render/ansi";
import { cutLongLines, type Piece, streamWindow } from "../render/streamWindow";
import { h } from "../util/dom";
import type { StreamOutput } from "../worksheet/outputs";

const COLLAPSE_LINES = 40;
/** "Show all" lays out the whole text at once; past this many characters that would freeze. */
const SHOW_ALL_CHARS = 1_000_000;

export class StreamView {
  readonly element: HTMLElement;
  private readonly pre: HTMLPreElement;
  private readonly head = new TextSlot("start");
  private readonly tail = new TextSlot("end");
  private readonly gap: HTMLElement;
  private readonly hidden: HTMLElement;
  private readonly showAllButton: HTMLButtonElement;
  private readonly tooLong: HTMLElement;
  private readonly toggle: HTMLButtonElement;
  private showAll = false;
  private expanded = false;
  /** Keep the end in view, until the person scrolls up to read earlier lines. */
  private follow = true;

  constructor(private stream: StreamOutput) {
    this.pre = h("pre", { className: "stream-text", tabindex: -1 }, this.head.element);
    this.pre.addEventListener("scroll", () => {
      this.follow = this.pre.scrollHeight - this.pre.scrollTop - this.pre.clientHeight < 24;
    });
    const link = (label: string, onclick: () => void): HTMLButtonElement =>
      h("button", { type: "button", className: "link", onclick }, label);
    this.hidden = h("span", {});
    this.showAllButton = link("Show all", () => this.revealAll());
    this.tooLong = h("span", {}, "too long to show here");
    this.gap = h(
      "span",
      { className: "output-gap", role: "note" },
      "… ",
      this.hidden,
      " hidden · ",
      this.showAllButton,
      this.tooLong,
      " · ",
      link("Download", () => this.download()),
    );
    this.toggle = h("button", {
      type: "button",
      className: "link output-toggle",
      hidden: true,
      "aria-expanded": "false",
      onclick: () => this.setExpanded(!this.expanded),
    }, "Expand output");
    this.element = h("div", { className: `output stream ${stream.name}` }, this.pre, this.toggle);
    this.update(stream);
  }

  update(stream: StreamOutput): void {
    this.stream = stream;
    // A stream still growing can outgrow "Show all": it goes back to the window then.
    if (stream.text.length > SHOW_ALL_CHARS) this.showAll = false;
    const lines = stream.lines ?? 0;
    if (this.showAll) this.showWindow(stream.text, "", 0, 0);
    else {
      const window = streamWindow(stream.text, lines);
      this.showWindow(window.head, window.tail, window.hiddenLines, window.hiddenChars);
    }
    const long = lines > COLLAPSE_LINES;
    this.toggle.hidden = !long;
    this.pre.classList.toggle("collapsed", long && !this.expanded);
    if (long && !this.expanded && this.follow) {
      if (this.pre.isConnected) this.pre.scrollTop = this.pre.scrollHeight;
      else requestAnimationFrame(() => (this.pre.scrollTop = this.pre.scrollHeight));
    }
  }

  private showWindow(head: string, tail: string, hiddenLines: number, hiddenChars: number): void {
    this.head.show(head, !this.showAll);
    this.tail.show(tail, true);
    if (hiddenChars === 0) {
      this.gap.remove();
      this.tail.element.remove();
      return;
    }
    this.hidden.textContent = hiddenLines > 0 ? plural(hiddenLines, "line") : plural(hiddenChars, "character");
    const small = this.stream.text.length <= SHOW_ALL_CHARS;
    this.showAllButton.hidden = !small;
    this.tooLong.hidden = small;
    if (!this.gap.isConnected) this.pre.append(this.gap, this.tail.element);
  }

  private revealAll(): void {
    this.showAll = true;
    this.update(this.stream);
  }

  private download(): void {
    const url = URL.createObjectURL(new Blob([this.stream.text], { type: "text/plain;charset=utf-8" }));
    const link = h("a", { href: url, download: `${this.stream.name}.txt`, hidden: true });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  }

  private setExpanded(expanded: boolean): void {
    this.expanded = expanded;
    this.toggle.setAttribute("aria-expanded", String(expanded));
    this.toggle.textContent = expanded ? "Collapse output" : "Expand output";
    this.update(this.stream);
  }
}

/**
 * One run of shown text. Showing the same text again costs nothing; text that only grew is
 * appended (so "Show all" on a live stream adds each frame's new text, not the whole); other
 * changes re-render the slot, which the window keeps small.
 */
class TextSlot {
  readonly element = h("span", {});
  private shown = "";
  private cut = true;

  constructor(private readonly keep: "start" | "end") {}

  /** `cut`: lines longer than LINE_CHARS are cut (the window), or shown whole ("Show all"). */
  show(text: string, cut: boolean): void {
    if (text === this.shown && cut === this.cut) return;
    const grew = !cut && !this.cut && this.shown !== "" && text.startsWith(this.shown);
    if (grew) this.element.append(renderPieces([text.slice(this.shown.length)]));
    else this.element.replaceChildren(renderPieces(cut ? cutLongLines(text, this.keep) : [text]));
    this.shown = text;
    this.cut = cut;
  }
}

function renderPieces(pieces: Piece[]): DocumentFragment {
  const fragment = document.createDocumentFragment();
  for (const piece of pieces) {
    if (typeof piece !== "string") fragment.append(h("span", { className: "output-cut" }, `[… ${plural(piece.cut, "character")}]`));
    else if (hasAnsi(piece)) fragment.append(renderAnsi(piece));
    else fragment.append(piece);
  }
  return fragment;
}

function plural(count: number, noun: string): string {
  return `${count.toLocaleString("en")} ${noun}${count === 1 ? "" : "s"}`;
}
