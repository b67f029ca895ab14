/**
 * Picks the richest representation of a MIME bundle this page can show, and renders it. No
 * output runs script in the page: text/html goes to the sandboxed frame, Markdown and LaTeX
 * through the sanitizer, SVG becomes an image, and text (ANSI included) stays text.
 */
import { h } from "../util/dom";
import { hasAnsi, renderAnsi } from "./ansi";
import { htmlFrame } from "./htmlFrame";
import { renderLatex, renderMarkdown } from "./markdown";

export type Renderer = (value: unknown, metadata: Record<string, unknown>, bundle: Record<string, unknown>) => HTMLElement;

const text = (value: unknown): string => (Array.isArray(value) ? value.join("") : String(value ?? ""));

/** A short text for screen readers, from the plain-text representation when there is one. */
const altText = (bundle: Record<string, unknown>, fallback: string): string =>
  text(bundle["text/plain"] ?? fallback).slice(0, 200) || fallback;

function image(mime: string): Renderer {
  return (value, metadata, bundle) => {
    const size = (metadata[mime] ?? metadata) as { width?: number; height?: number };
    const src =
      mime === "image/svg+xml"
        ? `data:image/svg+xml;charset=utf-8,${encodeURIComponent(text(value))}` // as <img>: scripts in SVG never run
        : `data:${mime};base64,${text(value).replace(/\s+/g, "")}`;
    return h("img", {
      className: "image-output",
      src,
      alt: altText(bundle, "Image output"),
      width: typeof size.width === "number" ? size.width : null,
      height: typeof size.height === "number" ? size.height : null,
    });
  };
}

export function plainText(value: string, className = "text-output"): HTMLElement {
  const pre = h("pre", { className });
  if (hasAnsi(value)) pre.append(renderAnsi(value));
  else pre.textContent = value;
  return pre;
}

function rich(className: string, content: DocumentFragment): HTMLElement {
  return h("div", { className }, content);
}

/** Order of preference, richest first (as Jupyter's). */
const builtIn = (hubUrl: string | null): readonly [string, Renderer][] => [
  ["text/html", (value, _m, bundle) => htmlFrame(text(value), altText(bundle, "HTML output"), hubUrl)],
  ["text/markdown", (value) => rich("markdown-output rendered-markdown", renderMarkdown(text(value)))],
  ["text/latex", (value) => rich("latex-output", renderLatex(text(value)))],
  ["image/svg+xml", image("image/svg+xml")],
  ["image/png", image("image/png")],
  ["image/jpeg", image("image/jpeg")],
  ["image/gif", image("image/gif")],
  ["application/json", (value) => plainText(JSON.stringify(value, null, 2), "json-output")],
  ["text/plain", (value) => plainText(text(value))],
];

/**
 * The built-in renderers plus those added for one kernel's outputs (its widget views). A page
 * with several kernels (embedded cells) keeps one set per kernel, so an output is rendered by
 * the widget manager of the kernel that produced it.
 */
export class MimeRenderers {
  private added: [string, Renderer][] = [];
  private readonly builtIn: readonly [string, Renderer][];

  /** `hubUrl`: the kernel's hub, when it is not the page's own (embedded cells; see htmlFrame). */
  constructor(hubUrl: string | null = null) {
    this.builtIn = builtIn(hubUrl);
  }

  /** An added renderer is preferred over the built-in ones. */
  add(mime: string, render: Renderer): void {
    this.added.unshift([mime, render]);
  }

  render(bundle: Record<string, unknown>, metadata: Record<string, unknown>): HTMLElement {
    for (const [mime, render] of [...this.added, ...this.builtIn]) {
      if (mime in bundle) {
        try {
          return render(bundle[mime], metadata, bundle);
        } catch (error) {
          return plainText(`Could not show ${mime}: ${(error as Error).message}`, "text-output render-error");
        }
      }
    }
    return plainText(`No viewer for: ${Object.keys(bundle).join(", ") || "empty output"}`, "text-output render-error");
  }
}

/** The worksheet's renderers: the page has one kernel. */
export const pageRenderers = new MimeRenderers();
