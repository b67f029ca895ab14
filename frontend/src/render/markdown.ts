/**
 * Markdown (cells and text/markdown outputs) and LaTeX (text/latex outputs) to HTML.
 * Math between `$…$` / `$$…$$` is typeset by KaTeX; the result is sanitized with DOMPurify
 * because it is inserted into the page itself, next to the token.
 */
import DOMPurify from "dompurify";
import katex from "katex";
import { Marked, type TokenizerAndRendererExtension } from "marked";

function typeset(tex: string, displayMode: boolean): string {
  return katex.renderToString(tex, { displayMode, throwOnError: false, output: "htmlAndMathml", trust: false });
}

const math: TokenizerAndRendererExtension = {
  name: "math",
  level: "inline",
  start: (src) => src.match(/\$|\\\(|\\\[/)?.index,
  tokenizer(src) {
    const match =
      /^\$\$([\s\S]+?)\$\$/.exec(src) ??
      /^\\\[([\s\S]+?)\\\]/.exec(src) ??
      /^\$((?:\\.|[^\\$\n])+?)\$(?!\d)/.exec(src) ??
      /^\\\(([\s\S]+?)\\\)/.exec(src);
    if (!match) return undefined;
    const display = match[0].startsWith("$$") || match[0].startsWith("\\[");
    return { type: "math", raw: match[0], text: match[1].trim(), display };
  },
  renderer: (token) => typeset(token.text as string, token.display as boolean),
};

const marked = new Marked({ gfm: true, breaks: false, async: false });
marked.use({ extensions: [math] });

DOMPurify.addHook("afterSanitizeAttributes", (node) => {
  if (node.tagName === "A" && node.getAttribute("href")) {
    node.setAttribute("target", "_blank");
    node.setAttribute("rel", "noopener noreferrer");
  }
});

export function markdownToHtml(source: string): string {
  return DOMPurify.sanitize(marked.parse(source) as string);
}

export function latexToHtml(source: string): string {
  const text = source.trim();
  const delimited = /^\$\$([\s\S]*)\$\$$/.exec(text) ?? /^\$([\s\S]*)\$$/.exec(text) ?? /^\\\[([\s\S]*)\\\]$/.exec(text);
  if (delimited) return DOMPurify.sanitize(typeset(delimited[1], true));
  if (text.startsWith("\\begin")) return DOMPurify.sanitize(typeset(text, true));
  return markdownToHtml(text);
}
