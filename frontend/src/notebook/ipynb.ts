/**
 * Worksheets as Jupyter notebooks (nbformat 4.5): what "Download .ipynb" writes, what
 * "Open .ipynb" reads, and what the page keeps in localStorage.
 */
import { codeInLanguage, kernelOfNotebook, languageOfCode, notebookKernelspec } from "../kernel/kinds";
import { Cell } from "../worksheet/cell";
import type { MimeBundle, Output } from "../worksheet/outputs";
import type { Worksheet } from "../worksheet/worksheet";

type MultilineString = string | string[];

interface NotebookOutput {
  output_type: string;
  [key: string]: unknown;
}

interface NotebookCell {
  id?: string;
  cell_type: string;
  metadata?: Record<string, unknown>;
  source: MultilineString;
  outputs?: NotebookOutput[];
  execution_count?: number | null;
  attachments?: unknown;
}

export interface Notebook {
  nbformat: number;
  nbformat_minor: number;
  metadata: Record<string, unknown>;
  cells: NotebookCell[];
}

export interface SaveOptions {
  /** Keep at most this many characters of each stream (the end of it): localStorage is small. */
  maxStreamChars?: number;
}

export function toNotebook(worksheet: Worksheet, options: SaveOptions = {}): Notebook {
  return {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: {
      kernelspec: notebookKernelspec(worksheet.kernelName),
      language_info: { name: notebookKernelspec(worksheet.kernelName).language },
      cellhub: { title: worksheet.title },
    },
    cells: worksheet.cells.map((cell) => cellToNotebook(cell, worksheet.kernelName, options)),
  };
}

/** A code cell in another language than its kernel's is saved behind its cell magic (`%%gp`),
 * which Jupyter's own kernel runs the same, and read back as a cell in that language. */
function cellToNotebook(cell: Cell, kernelName: string, options: SaveOptions): NotebookCell {
  if (cell.type === "markdown") {
    return { id: cell.id, cell_type: "markdown", metadata: cell.metadata, source: cell.source };
  }
  return {
    id: cell.id,
    cell_type: "code",
    metadata: cell.metadata,
    source: codeInLanguage(cell.source, cell.language, kernelName),
    execution_count: cell.executionCount,
    outputs: cell.outputs.all.map((output) => outputToNotebook(output, options)),
  };
}

function outputToNotebook(output: Output, options: SaveOptions): NotebookOutput {
  switch (output.output_type) {
    case "stream": {
      const limit = options.maxStreamChars;
      const text = limit && output.text.length > limit ? output.text.slice(-limit) : output.text;
      return { output_type: "stream", name: output.name, text };
    }
    case "error":
      return { output_type: "error", ename: output.ename, evalue: output.evalue, traceback: output.traceback };
    case "execute_result":
      return { output_type: "execute_result", data: output.data, metadata: output.metadata, execution_count: output.execution_count ?? null };
    case "display_data": {
      const saved: NotebookOutput = { output_type: "display_data", data: output.data, metadata: output.metadata };
      // nbformat has no place for display ids in display_data; keep them in metadata for reloads.
      if (output.displayId) saved.metadata = { ...output.metadata, cellhub_display_id: output.displayId };
      return saved;
    }
  }
}

export class NotebookFormatError extends Error {}

export function fromNotebook(value: unknown): { cells: Cell[]; title: string; kernelName: string } {
  const notebook = value as Partial<Notebook>;
  if (!notebook || typeof notebook !== "object" || !Array.isArray(notebook.cells)) {
    throw new NotebookFormatError("This file is not a Jupyter notebook (no cells).");
  }
  if (notebook.nbformat !== 4) {
    throw new NotebookFormatError(`Only nbformat 4 notebooks can be opened (this one is ${notebook.nbformat}).`);
  }
  const meta = (notebook.metadata ?? {}) as { cellhub?: { title?: string } };
  const kernelName = kernelOfNotebook(notebook.metadata?.kernelspec);
  const cells = notebook.cells.map((raw) => {
    const code = raw.cell_type === "code" ? languageOfCode(joined(raw.source), kernelName) : { language: "", source: joined(raw.source) };
    const cell = new Cell(raw.cell_type === "markdown" ? "markdown" : "code", code.source, raw.id);
    cell.language = code.language;
    if (raw.cell_type === "raw") cell.metadata = { cellhub_raw: true };
    else cell.metadata = raw.metadata ?? {};
    if (cell.type === "code") {
      cell.executionCount = typeof raw.execution_count === "number" ? raw.execution_count : null;
      cell.outputs.replaceAll((raw.outputs ?? []).map(outputFromNotebook).filter((o): o is Output => o !== null));
    }
    return cell;
  });
  return { cells, title: meta.cellhub?.title ?? "", kernelName };
}

function outputFromNotebook(raw: NotebookOutput): Output | null {
  switch (raw.output_type) {
    case "stream":
      return { output_type: "stream", name: raw.name === "stderr" ? "stderr" : "stdout", text: joined(raw.text as MultilineString) };
    case "error":
      return {
        output_type: "error",
        ename: String(raw.ename ?? ""),
        evalue: String(raw.evalue ?? ""),
        traceback: (raw.traceback as string[] | undefined) ?? [],
      };
    case "display_data":
    case "execute_result": {
      const metadata = { ...((raw.metadata as Record<string, unknown>) ?? {}) };
      const displayId = metadata.cellhub_display_id as string | undefined;
      delete metadata.cellhub_display_id;
      return {
        output_type: raw.output_type,
        data: bundleFromNotebook((raw.data as MimeBundle) ?? {}),
        metadata,
        execution_count: raw.output_type === "execute_result" ? ((raw.execution_count as number | null) ?? null) : undefined,
        displayId,
      };
    }
    default:
      return null;
  }
}

/** Notebook files may split text values into lists of lines; JSON values stay as they are. */
function bundleFromNotebook(data: MimeBundle): MimeBundle {
  const bundle: MimeBundle = {};
  for (const [mime, value] of Object.entries(data)) {
    bundle[mime] = Array.isArray(value) && !mime.endsWith("json") ? value.join("") : value;
  }
  return bundle;
}

function joined(value: MultilineString | undefined): string {
  return Array.isArray(value) ? value.join("") : (value ?? "");
}

export function notebookFileName(title: string): string {
  const base = title.trim().replace(/[^\p{L}\p{N} _.-]+/gu, "").replace(/\s+/g, "_") || "worksheet";
  return `${base}.ipynb`;
}
