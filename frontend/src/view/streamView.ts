/**
 * A stdout/stderr stream that may grow to millions of lines. Only the last MAX_SHOWN_LINES are
 * put in the DOM (with a button to show everything); past COLLAPSE_LINES the text sits in a
 * scroll box that follows the end while the person has not scrolled up, and can be expanded.
 */
import { hasAnsi, renderAnsi } from "../render/ansi";
import { h } from "../util/dom";
import type { StreamOutput } from "../worksheet/outputs";

const MAX_SHOWN_LINES = 2_000;
const MAX_SHOWN_CHARS = 200_000;
const COLLAPSE_LINES = 40;

export class StreamView {
  readonly element: HTMLElement;
  private readonly pre: HTMLPreElement;
  private readonly notice: HTMLElement;
  private readonly toggle: HTMLButtonElement;
  private showAll = false;
  private expanded = false;
  /** Keep the end in view, until the person scrolls up to read earlier lines. */
  private follow = true;

  constructor(private stream: StreamOutput) {
    this.pre = h("pre", { className: "stream-text", tabindex: -1 });
    this.pre.addEventListener("scroll", () => {
      this.follow = this.pre.scrollHeight - this.pre.scrollTop - this.pre.clientHeight < 24;
    });
    this.notice = h("div", { className: "output-notice", hidden: true });
    this.toggle = h("button", {
      type: "button",
      className: "link output-toggle",
      hidden: true,
      "aria-expanded": "false",
      onclick: () => this.setExpanded(!this.expanded),
    }, "Expand output");
    this.element = h("div", { className: `output stream ${stream.name}` }, this.notice, this.pre, this.toggle);
    this.update(stream);
  }

  update(stream: StreamOutput): void {
    this.stream = stream;
    const { shown, hiddenLines } = this.showAll ? { shown: stream.text, hiddenLines: 0 } : tail(stream.text, stream.lines ?? 0);
    if (hasAnsi(shown)) this.pre.replaceChildren(renderAnsi(shown));
    else this.pre.textContent = shown;

    this.notice.hidden = hiddenLines === 0;
    if (hiddenLines > 0) {
      this.notice.replaceChildren(
        `${hiddenLines.toLocaleString()} earlier line${hiddenLines === 1 ? "" : "s"} not shown. `,
        h("button", { type: "button", className: "link", onclick: () => this.revealAll() }, "Show all"),
      );
    }
    const long = (stream.lines ?? 0) > COLLAPSE_LINES;
    this.toggle.hidden = !long;
    this.pre.classList.toggle("collapsed", long && !this.expanded);
    if (long && !this.expanded && this.follow) {
      if (this.pre.isConnected) this.pre.scrollTop = this.pre.scrollHeight;
      else requestAnimationFrame(() => (this.pre.scrollTop = this.pre.scrollHeight));
    }
  }

  private revealAll(): void {
    this.showAll = true;
    this.update(this.stream);
  }

  private setExpanded(expanded: boolean): void {
    this.expanded = expanded;
    this.toggle.setAttribute("aria-expanded", String(expanded));
    this.toggle.textContent = expanded ? "Collapse output" : "Expand output";
    this.update(this.stream);
  }
}

function tail(text: string, totalNewlines: number): { shown: string; hiddenLines: number } {
  if (text.length <= MAX_SHOWN_CHARS && totalNewlines <= MAX_SHOWN_LINES) return { shown: text, hiddenLines: 0 };
  const floor = Math.max(0, text.length - MAX_SHOWN_CHARS);
  let start = text.length;
  let index = text.endsWith("\n") ? text.length - 2 : text.length - 1;
  for (let lines = 0; lines < MAX_SHOWN_LINES; lines++) {
    const newline = text.lastIndexOf("\n", index);
    if (newline < floor) {
      start = floor;
      break;
    }
    start = newline + 1;
    index = newline - 1;
  }
  if (start === 0) return { shown: text, hiddenLines: 0 };
  const shown = text.slice(start);
  return { shown, hiddenLines: Math.max(0, totalNewlines - countNewlines(shown)) };
}

function countNewlines(text: string): number {
  let count = 0;
  for (let i = text.indexOf("\n"); i >= 0; i = text.indexOf("\n", i + 1)) count++;
  return count;
}
