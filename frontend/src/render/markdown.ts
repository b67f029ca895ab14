/**
 * Markdown (cells and text/markdown outputs) and LaTeX (text/latex outputs), rendered for the
 * page. Math between `$…$` / `$$…$$` is typeset by KaTeX; the result goes through the page's
 * sanitizer (sanitizer.ts) because it is inserted into the page itself.
 */
import katex from "katex";
import { Marked, type TokenizerAndRendererExtension } from "marked";
import { sanitizedFragment } from "./sanitizer";

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

export function renderMarkdown(source: string): DocumentFragment {
  return sanitizedFragment(marked.parse(source) as string);
}

export function renderLatex(source: string): DocumentFragment {
  const text = source.trim();
  const delimited = /^\$\$([\s\S]*)\$\$$/.exec(text) ?? /^\$([\s\S]*)\$$/.exec(text) ?? /^\\\[([\s\S]*)\\\]$/.exec(text);
  if (delimited) return sanitizedFragment(typeset(delimited[1], true));
  if (text.startsWith("\\begin")) return sanitizedFragment(typeset(text, true));
  return renderMarkdown(text);
}
