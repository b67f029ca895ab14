/**
 * The one gate for HTML that is shown in a page rather than in the sandboxed frame: Markdown
 * (cells and outputs), LaTeX, and ipywidgets' HTML, HTMLMath and HTML descriptions. Every
 * renderer that puts such HTML into the worksheet (app.js), into an embedded cell on a
 * third-party page (embed.js) or into a widget view (widgets.js) takes it from here.
 *
 * Why: that HTML comes from kernels, shared links and other people's worksheets, and it lands
 * in the hub's origin, next to the user's credentials, or in the embedding page's origin. What
 * comes out shows text, markup, images, links and math; it cannot run script (no `<script>`,
 * event handlers, `javascript:` URLs, unknown custom elements), restyle the page around it (no
 * `<style>`), post a form, or shadow the page's globals with an `id`/`name` (those get a
 * `user-content-` prefix). Links open in a new tab without an opener.
 *
 * DOMPurify parses in an inert document (no script runs, no image loads), and the result is
 * inserted as nodes, never parsed again, so nothing can change between sanitizing and showing.
 * Outputs that need their scripts (text/html) render in the sandboxed frame (htmlFrame.ts);
 * ANSI text is built as nodes from text (ansi.ts) and never parsed as HTML.
 */
import DOMPurify, { type Config } from "dompurify";

const purifier = DOMPurify(window);

purifier.addHook("afterSanitizeAttributes", (node) => {
  if (node.tagName === "A" && node.getAttribute("href")) {
    node.setAttribute("target", "_blank");
    node.setAttribute("rel", "noopener noreferrer");
  }
});

const POLICY: Config = { FORBID_TAGS: ["style", "form"], SANITIZE_NAMED_PROPS: true, ALLOW_DATA_ATTR: false };

/** A narrower allowlist, for HTML that must stay inline (ipywidgets' descriptions). */
export interface InlineAllowlist {
  tags?: string[];
  attributes?: string[];
}

function config({ tags, attributes }: InlineAllowlist): Config {
  return {
    ...POLICY,
    ...(tags ? { ALLOWED_TAGS: tags } : {}),
    ...(attributes ? { ALLOWED_ATTR: attributes } : {}),
  };
}

/** `html` made safe to show in the page, as a string (for code that insists on setting innerHTML). */
export function sanitizeHtml(html: string, allowlist: InlineAllowlist = {}): string {
  return purifier.sanitize(html, config(allowlist));
}

/** `html` made safe to show in the page, as nodes ready to insert. */
export function sanitizedFragment(html: string): DocumentFragment {
  return purifier.sanitize(html, { ...POLICY, RETURN_DOM_FRAGMENT: true });
}

/** Replaces `element`'s children with `html`, sanitized. */
export function showHtml(element: Element, html: string): void {
  element.replaceChildren(sanitizedFragment(html));
}
