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

/** Sage Cell's language names, as links (`&lang=`) and embedding pages (`data-lang`) give them. */
const LANGUAGES: Record<string, string> = { python: "python3", python3: "python3", sage: "sage" };

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
