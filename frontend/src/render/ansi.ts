/**
 * ANSI SGR escapes (colours, bold, italic, underline) as styled spans, as in IPython tracebacks
 * and coloured program output; other control sequences are dropped. The text is put into nodes
 * as text, never parsed as HTML, so nothing in a stream or a traceback can become markup.
 */
interface Style {
  fg: string | null;
  bg: string | null;
  bold: boolean;
  faint: boolean;
  italic: boolean;
  underline: boolean;
  inverse: boolean;
}

const plain = (): Style => ({ fg: null, bg: null, bold: false, faint: false, italic: false, underline: false, inverse: false });

// eslint-disable-next-line no-control-regex
const SEQUENCE = /\x1b\[([\d;:]*)([A-Za-z])|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|[\x00-\x08\x0b-\x0c\x0e-\x1a\x1c-\x1f]/g;

export function hasAnsi(text: string): boolean {
  return text.includes("\x1b");
}

/** `text` as text nodes and styled spans. */
export function renderAnsi(text: string): DocumentFragment {
  const fragment = document.createDocumentFragment();
  let style = plain();
  let last = 0;
  const flush = (end: number): void => {
    if (end <= last) return;
    const chunk = text.slice(last, end);
    fragment.append(styled(style) ? spanFor(style, chunk) : chunk);
  };
  SEQUENCE.lastIndex = 0;
  for (let match = SEQUENCE.exec(text); match; match = SEQUENCE.exec(text)) {
    flush(match.index);
    last = match.index + match[0].length;
    if (match[2] === "m") style = applySgr(style, match[1]);
  }
  flush(text.length);
  return fragment;
}

function styled(style: Style): boolean {
  return Object.values(style).some(Boolean);
}

function spanFor(style: Style, chunk: string): HTMLSpanElement {
  const span = document.createElement("span");
  span.textContent = chunk;
  let fg = style.fg;
  let bg = style.bg;
  if (style.inverse) [fg, bg] = [bg ?? "default-bg", fg ?? "default-fg"];
  for (const [value, prefix, prop] of [
    [fg, "ansi-fg-", "color"],
    [bg, "ansi-bg-", "background-color"],
  ] as const) {
    if (!value) continue;
    if (!value.startsWith("#")) span.classList.add(prefix + value);
    else if (prop === "color") {
      // Made readable on the theme's background by the stylesheet (app.css, .ansi-fg-extended).
      span.style.setProperty("--ansi-fg", value);
      span.classList.add("ansi-fg-extended");
    } else span.style.setProperty(prop, value);
  }
  for (const flag of ["bold", "faint", "italic", "underline"] as const) {
    if (style[flag]) span.classList.add(`ansi-${flag}`);
  }
  return span;
}

const NAMES = ["black", "red", "green", "yellow", "blue", "magenta", "cyan", "white"];

function applySgr(current: Style, params: string): Style {
  const style = { ...current };
  const codes = params === "" ? [0] : params.split(/[;:]/).map((p) => parseInt(p || "0", 10));
  for (let i = 0; i < codes.length; i++) {
    const code = codes[i];
    if (code === 0) Object.assign(style, plain());
    else if (code === 1) style.bold = true;
    else if (code === 2) style.faint = true;
    else if (code === 3) style.italic = true;
    else if (code === 4) style.underline = true;
    else if (code === 7) style.inverse = true;
    else if (code === 22) style.bold = style.faint = false;
    else if (code === 23) style.italic = false;
    else if (code === 24) style.underline = false;
    else if (code === 27) style.inverse = false;
    else if (code >= 30 && code <= 37) style.fg = NAMES[code - 30];
    else if (code >= 90 && code <= 97) style.fg = `bright-${NAMES[code - 90]}`;
    else if (code >= 40 && code <= 47) style.bg = NAMES[code - 40];
    else if (code >= 100 && code <= 107) style.bg = `bright-${NAMES[code - 100]}`;
    else if (code === 39) style.fg = null;
    else if (code === 49) style.bg = null;
    else if (code === 38 || code === 48) {
      const [color, used] = extendedColor(codes, i + 1);
      i += used;
      if (code === 38) style.fg = color;
      else style.bg = color;
    }
  }
  return style;
}

/** `38;5;n` (256 colours) or `38;2;r;g;b` (true colour). Returns the colour and codes consumed. */
function extendedColor(codes: number[], at: number): [string | null, number] {
  if (codes[at] === 5 && at + 1 < codes.length) {
    const n = codes[at + 1];
    if (n < 8) return [NAMES[n], 2];
    if (n < 16) return [`bright-${NAMES[n - 8]}`, 2];
    return [hex(...xterm256(n)), 2];
  }
  if (codes[at] === 2 && at + 3 < codes.length) return [hex(codes[at + 1], codes[at + 2], codes[at + 3]), 4];
  return [null, 1];
}

function xterm256(n: number): [number, number, number] {
  if (n >= 232) {
    const level = 8 + (n - 232) * 10;
    return [level, level, level];
  }
  const i = n - 16;
  const step = (v: number): number => (v === 0 ? 0 : 55 + v * 40);
  return [step(Math.floor(i / 36)), step(Math.floor(i / 6) % 6), step(i % 6)];
}

function hex(r: number, g: number, b: number): string {
  return `#${[r, g, b].map((v) => Math.max(0, Math.min(255, v | 0)).toString(16).padStart(2, "0")).join("")}`;
}
