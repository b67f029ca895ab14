/**
 * Kernel kinds by name (`python3`, `sage`), as the page meets them outside the kernels API: in
 * notebook files (`metadata.kernelspec`), in self-contained links and embedded cells (Sage
 * Cell's `lang=sage|python`), and in the kernel choice, which lists what `api/kernelspecs`
 * offers.
 */

export const DEFAULT_KERNEL = "python3";

export interface NotebookKernelspec {
  name: string;
  display_name: string;
  language: string;
}

/** What a notebook file says of its kernel: as Jupyter's own kernels write it. */
const NOTEBOOK_SPECS: Record<string, NotebookKernelspec> = {
  python3: { name: "python3", display_name: "Python 3 (ipykernel)", language: "python" },
  sage: { name: "sage", display_name: "SageMath", language: "sage" },
};

/**
 * Sage Cell's language names, as links (`&lang=`) and embedding pages (`data-lang`) give them,
 * and the kernel of each: GP, GAP, Maxima and Singular are languages of a Sage cell.
 */
const LANGUAGES: Record<string, string> = {
  python: "python3",
  python3: "python3",
  sage: "sage",
  gp: "sage",
  gap: "sage",
  maxima: "sage",
  singular: "sage",
};

/**
 * The languages a cell may be written in besides its kernel's own, by kernel: each is run
 * behind its cell magic (`%%gp`), as Sage Cell runs them. A Sage kernel's `%%python` is plain
 * Python, without Sage's preparser (docs/sage.md).
 */
const CELL_LANGUAGES: Record<string, readonly string[]> = { sage: ["gp", "gap", "maxima", "singular", "python"] };

/** How the page names languages, the kernels' own included. */
const LANGUAGE_NAMES: Record<string, string> = {
  python3: "Python",
  sage: "Sage",
  gp: "GP",
  gap: "GAP",
  maxima: "Maxima",
  singular: "Singular",
  python: "Python",
};

export function notebookKernelspec(kernelName: string): NotebookKernelspec {
  return NOTEBOOK_SPECS[kernelName] ?? { name: kernelName, display_name: kernelName, language: kernelName };
}

/**
 * The kernel a notebook file asks for: `sage` for any Sage kernelspec (passagemath installs
 * them as `sagemath`, `sagemath-10.6`, …), else `python3`, whatever Python kernel it names.
 */
export function kernelOfNotebook(kernelspec: unknown): string {
  const spec = (kernelspec ?? {}) as Partial<NotebookKernelspec>;
  return spec.language === "sage" || /sage/i.test(String(spec.name ?? "")) ? "sage" : DEFAULT_KERNEL;
}

/** The kernel of a Sage Cell language name; null for none or one the page does not know. */
export function kernelOfLanguage(language: string | null | undefined): string | null {
  return (language && LANGUAGES[language.trim().toLowerCase()]) || null;
}

/** The language name a link carries for `kernelName` (`lang=`); null for the default kernel. */
export function languageOfKernel(kernelName: string): string | null {
  return kernelName === DEFAULT_KERNEL ? null : kernelName;
}

/** The languages a cell of kernel `kernelName` may be written in besides the kernel's own. */
export function cellLanguages(kernelName: string): readonly string[] {
  return CELL_LANGUAGES[kernelName] ?? [];
}

/** A language's name on the page; a kernel's name for its own language. */
export function languageName(language: string): string {
  return LANGUAGE_NAMES[language] ?? language;
}

/** A cell's language for a Sage Cell language name (`gp`); "" for its kernel's own, or none. */
export function cellLanguageOf(language: string | null | undefined): string {
  const name = language?.trim().toLowerCase() ?? "";
  const kernelName = LANGUAGES[name];
  return kernelName && cellLanguages(kernelName).includes(name) ? name : "";
}

/** The code that runs `source`, written in `language`, on kernel `kernelName`: behind the
 * language's cell magic, or as it is for the kernel's own language ("") or one it lacks. */
export function codeInLanguage(source: string, language: string, kernelName: string): string {
  return language && cellLanguages(kernelName).includes(language) ? `%%${language}\n${source}` : source;
}

/** A cell's language and source, from code that may start with a language's cell magic
 * (what `codeInLanguage` made: notebook files and shared code carry a cell's language so). */
export function languageOfCode(code: string, kernelName: string): { language: string; source: string } {
  const magic = /^%%(\w+)[ \t]*\n/.exec(code);
  if (magic && cellLanguages(kernelName).includes(magic[1])) return { language: magic[1], source: code.slice(magic[0].length) };
  return { language: "", source: code };
}
