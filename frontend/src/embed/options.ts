/**
 * Options of an embedded cell: from the page's `cellhub.init({...})` call, overridden per cell
 * by data attributes (`data-cellhub-autorun`, `data-cellhub-read-only`,
 * `data-cellhub-hide-editor`, `data-cellhub-kernel="group"`, `data-cellhub-kernel-name`). The
 * kernel spec may also be given as Sage Cell pages give a cell's language: `data-kernel="sage"`,
 * `data-lang="sage"`, or a `<script type="text/x-sage">` holding the code; Sage Cell's other
 * languages (`data-lang="gp"`, `"gap"`, `"maxima"`, `"singular"`) are cells of a Sage kernel.
 * `data-cellhub-files="data.csv https://example.org/t.txt"` (or `files` in `init`) names data
 * files, resolved against the page: the hub fetches them (from the origins its deployment
 * allows) into the kernel's working directory before the first cell runs.
 */

import { cellLanguageOf, DEFAULT_KERNEL, kernelOfLanguage } from "../kernel/kinds";

export interface EmbedOptions {
  /** The cellhub serving the cells (default: where embed.js came from). */
  hubUrl: string;
  /** A token, for deployments without anonymous access (it is visible to the page's readers). */
  token: string;
  /** Elements to turn into cells. */
  selector: string;
  autorun: boolean;
  readOnly: boolean;
  hideEditor: boolean;
  /** Cells with the same kernel group share one kernel (and its variables); "" gives each its own. */
  kernel: string;
  kernelName: string;
  /** The code's language when it is not the kernel's own (`gp` in a Sage cell); "" otherwise. */
  language: string;
  /** Data files for the kernel's working directory: absolute URLs. */
  files: string[];
}

export const DEFAULTS: Omit<EmbedOptions, "hubUrl"> = {
  token: "",
  selector: "div.cellhub",
  autorun: false,
  readOnly: false,
  hideEditor: false,
  kernel: "",
  kernelName: DEFAULT_KERNEL,
  language: "",
  files: [],
};

function flag(value: string | undefined, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  return !["false", "0", "no", "off"].includes(value.trim().toLowerCase());
}

/** The options of `element`: its data attributes over the page's defaults. */
export function cellOptions(element: HTMLElement, defaults: EmbedOptions): EmbedOptions {
  const data = element.dataset;
  const lang = data.lang ?? languageOfScript(element);
  return {
    ...defaults,
    hubUrl: data.cellhubUrl ?? defaults.hubUrl,
    autorun: flag(data.cellhubAutorun, defaults.autorun),
    readOnly: flag(data.cellhubReadOnly, defaults.readOnly),
    hideEditor: flag(data.cellhubHideEditor, defaults.hideEditor),
    kernel: data.cellhubKernel ?? defaults.kernel,
    kernelName: data.cellhubKernelName ?? data.kernel ?? kernelOfLanguage(lang) ?? defaults.kernelName,
    language: cellLanguageOf(lang) || defaults.language,
    files: (data.cellhubFiles?.split(/\s+/) ?? defaults.files).filter(Boolean).map((url) => new URL(url, location.href).href),
  };
}

/** The language a cell's `<script type="text/x-LANGUAGE">` names, if it has one. */
function languageOfScript(element: HTMLElement): string | undefined {
  return /^text\/x-(\w+)$/.exec(element.querySelector("script")?.type ?? "")?.[1];
}

/** The code of an element: a `<script type="text/x-python">` inside it (so `<` needs no
 * escaping), else its text; common indentation and surrounding blank lines are removed. */
export function codeOf(element: HTMLElement): string {
  const script = element.querySelector("script");
  const lines = (script ?? element).textContent?.replace(/\r\n?/g, "\n").split("\n") ?? [];
  while (lines.length && !lines[0].trim()) lines.shift();
  while (lines.length && !lines[lines.length - 1].trim()) lines.pop();
  const indents = lines.filter((line) => line.trim()).map((line) => /^[ \t]*/.exec(line)?.[0].length ?? 0);
  const common = indents.length ? Math.min(...indents) : 0;
  return lines.map((line) => line.slice(common)).join("\n");
}
