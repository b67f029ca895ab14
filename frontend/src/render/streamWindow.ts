/**
 * Which part of a long stream the page shows: its first lines (the head) and its last lines
 * (the tail), each bounded in lines and in characters, with the middle left out; and, inside
 * what is shown, lines longer than a bound are cut. A stream of 10**5 lines or a single 20 MB
 * line thus costs the page a few thousand short lines of DOM, whatever its size — the layout of
 * millions of characters is what froze the page, not keeping them in memory. The full text
 * stays in the model, for "Show all", "Download" and the .ipynb file.
 *
 * Pure string work with no DOM, cheap per frame: it looks only near the two ends of the text.
 */
import { countNewlines } from "../worksheet/outputs";

export interface WindowLimits {
  headLines: number;
  headChars: number;
  tailLines: number;
  tailChars: number;
}

export interface StreamWindow {
  head: string;
  tail: string;
  /** Newlines left out between head and tail (0 when the whole text is shown). */
  hiddenLines: number;
  /** Characters left out between head and tail. */
  hiddenChars: number;
}

/** A run of shown text, or a mark saying how many characters of a long line were cut there. */
export type Piece = string | { cut: number };

export const STREAM_LIMITS: WindowLimits = { headLines: 100, headChars: 10_000, tailLines: 1_000, tailChars: 100_000 };

/** Lines longer than this are cut when shown (the rest of the line is in the download). */
export const LINE_CHARS = 10_000;

/** The head and tail of `text`; `totalNewlines` is kept by the model, so it is not counted here. */
export function streamWindow(text: string, totalNewlines: number, limits: WindowLimits = STREAM_LIMITS): StreamWindow {
  const headEnd = afterLines(text, limits.headLines, limits.headChars);
  const tailStart = Math.max(headEnd, startOfLastLines(text, limits.tailLines, limits.tailChars));
  if (tailStart - headEnd === 0) return { head: text, tail: "", hiddenLines: 0, hiddenChars: 0 };
  const head = text.slice(0, headEnd);
  const tail = text.slice(tailStart);
  const hiddenLines = Math.max(0, totalNewlines - countNewlines(head) - countNewlines(tail));
  return { head, tail, hiddenLines, hiddenChars: tailStart - headEnd };
}

/**
 * `text` with each line longer than `maxChars` cut to `maxChars` characters: its start in the
 * head, its end in the tail (whose first line may have begun long before the window).
 */
export function cutLongLines(text: string, keep: "start" | "end", maxChars: number = LINE_CHARS): Piece[] {
  const pieces: Piece[] = [];
  let from = 0;
  let lineStart = 0;
  while (lineStart < text.length) {
    const newline = text.indexOf("\n", lineStart);
    const lineEnd = newline < 0 ? text.length : newline;
    const cut = lineEnd - lineStart - maxChars;
    if (cut > 0 && keep === "start") {
      pieces.push(text.slice(from, lineStart + maxChars), { cut });
      from = lineEnd;
    } else if (cut > 0) {
      pieces.push(text.slice(from, lineStart), { cut });
      from = lineEnd - maxChars;
    }
    lineStart = lineEnd + 1;
  }
  if (from < text.length || pieces.length === 0) pieces.push(text.slice(from));
  return pieces.filter((piece) => piece !== "");
}

/** Where the text after the first `lines` lines (but no more than `maxChars` characters) starts. */
function afterLines(text: string, lines: number, maxChars: number): number {
  let end = 0;
  for (let line = 0; line < lines && end < text.length; line++) {
    const newline = text.indexOf("\n", end);
    if (newline < 0 || newline >= maxChars) return Math.min(text.length, maxChars);
    end = newline + 1;
  }
  return end;
}

/** Where the last `lines` lines (but no more than `maxChars` characters) start. */
function startOfLastLines(text: string, lines: number, maxChars: number): number {
  const floor = Math.max(0, text.length - maxChars);
  let start = text.length;
  let index = text.endsWith("\n") ? text.length - 2 : text.length - 1;
  for (let line = 0; line < lines && index >= 0; line++) {
    const newline = text.lastIndexOf("\n", index);
    if (newline < floor) return floor;
    start = newline + 1;
    index = newline - 1;
  }
  return index < 0 ? 0 : start;
}
