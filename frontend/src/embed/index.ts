/**
 * embed.js: turns `<div class="cellhub">code</div>` on any page into a live cell served by the
 * cellhub that served this script. Defines one global, `cellhub` ({init, version, cells}),
 * and nothing else; cells live in shadow roots; no jQuery, no MathJax, no page-wide styles.
 *
 * Cells start on load, unless the script tag says `data-cellhub-init="manual"`; then the page
 * calls `cellhub.init({autorun, readOnly, hideEditor, kernel, kernelName, selector, hubUrl, files})`.
 * Calling init again (or loading the script twice) only adds cells not yet made.
 *
 * When the page goes away (pagehide: closed, reloaded, left) every kernel it started is shut
 * down, so readers who reload or come back never find their earlier kernels still counted
 * against the per-client limit.
 */
import { EmbeddedCell } from "./embeddedCell";
import { KernelGroup } from "./kernelGroup";
import { DEFAULTS, type EmbedOptions, cellOptions, codeOf } from "./options";

interface CellhubGlobal {
  version: string;
  init(options?: Partial<EmbedOptions>): EmbeddedCell[];
  cells: EmbeddedCell[];
}

const script = document.currentScript as HTMLScriptElement | null;
const scriptHub = script?.src ? new URL("../", script.src).href : new URL("/", location.href).href;
const groups = new Map<string, KernelGroup>();
const cells: EmbeddedCell[] = [];
let anonymousGroups = 0;

function groupFor(options: EmbedOptions): KernelGroup {
  const name = options.kernel || `cell-${++anonymousGroups}`;
  const key = `${options.hubUrl}|${options.kernelName}|${name}`;
  let group = groups.get(key);
  if (!group) {
    group = new KernelGroup(options.hubUrl, options.token, options.kernelName, `cellhub:embed:${key}:${location.pathname}`);
    groups.set(key, group);
  }
  return group;
}

function releaseKernels(): void {
  for (const group of groups.values()) group.release();
}

function init(overrides: Partial<EmbedOptions> = {}): EmbeddedCell[] {
  const defaults: EmbedOptions = { ...DEFAULTS, hubUrl: scriptHub, ...overrides };
  const made: EmbeddedCell[] = [];
  for (const element of document.querySelectorAll<HTMLElement>(defaults.selector)) {
    if (element.shadowRoot || element.dataset.cellhubMade !== undefined) continue;
    element.dataset.cellhubMade = "";
    const options = cellOptions(element, defaults);
    try {
      made.push(new EmbeddedCell(element, codeOf(element), options, groupFor(options)));
    } catch (error) {
      console.error("cellhub: could not make a cell", element, error);
    }
  }
  cells.push(...made);
  return made;
}

const existing = (window as unknown as { cellhub?: CellhubGlobal }).cellhub;
if (!existing?.init) {
  (window as unknown as { cellhub: CellhubGlobal }).cellhub = { version: "1", init, cells };
  window.addEventListener("pagehide", releaseKernels);
}
const api = existing?.init ? existing : { init };
if (script?.dataset.cellhubInit !== "manual") {
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", () => api.init());
  else api.init();
}
