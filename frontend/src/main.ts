/** Boots the worksheet page: model, storage, kernel, views, in that order. */
import "katex/dist/katex.min.css";
import "./styles/app.css";
// The refusal page (hub/templates/refusal.html) links app.css too: its rules ride along.
import "./share/refusal.css";
import "./worksheets/worksheets.css";
import { readPageConfig } from "./config";
import { KernelConnection } from "./kernel/connection";
import { KernelsApi } from "./kernel/rest";
import { serveFramesFrom } from "./render/htmlFrame";
import { fromNotebook, notebookFileName, toNotebook } from "./notebook/ipynb";
import { BrowserStore } from "./notebook/persistence";
import { codeToShare, linkedCode, openLinked, reopenOnLinkedHash, SHARED_TITLE } from "./share/openLink";
import { ShareButton } from "./share/shareButton";
import { confirmRestart, KernelBar } from "./view/kernelBar";
import { Notices } from "./view/notices";
import { WidgetHost } from "./widgets/host";
import { WorksheetView } from "./view/worksheetView";
import { Runner } from "./worksheet/runner";
import { Cell } from "./worksheet/cell";
import { Worksheet } from "./worksheet/worksheet";
import { ServerWorksheets } from "./worksheets/serverWorksheets";

async function boot(): Promise<void> {
  const config = readPageConfig();
  serveFramesFrom(config.baseUrl);
  const scope = new URL(config.baseUrl, location.href).href;
  const worksheet = new Worksheet();
  // A shared link opens in a worksheet of its own, so it never replaces the person's.
  const linked = linkedCode();
  // Logged in, the person's worksheets live on the server; else in this browser.
  const server = linked || !config.serverWorksheets ? null : new ServerWorksheets(config.baseUrl, worksheet, scope, () => kernel.kernelId);
  const store = new BrowserStore(worksheet, `cellhub:${linked ? "shared" : "worksheet"}:${scope}`);
  if (linked) {
    worksheet.replaceAll([new Cell("code")], SHARED_TITLE);
    worksheet.kernelName = linked.kernelName ?? config.kernelName;
  } else if (server) await server.open();
  else store.restore();

  const kernelsApi = new KernelsApi(config.baseUrl);
  kernelsApi.startExtras = { cellhub_page: true };
  const kernel = new KernelConnection(kernelsApi, worksheet.kernelName, `cellhub:kernel:${scope}${linked ? "#shared" : ""}`);
  const runner = new Runner(kernel, worksheet);
  const widgets = new WidgetHost(kernel);
  const notices = new Notices();
  const view = new WorksheetView(worksheet, runner, kernel, notices);

  /** The worksheet's code is for kernel `name` now: a kernel of another spec replaces the kernel. */
  const useKernel = async (name: string): Promise<void> => {
    worksheet.kernelName = name;
    bar.kernelChoice.value = name;
    if (kernel.kernelName !== name) await kernel.switchKernel(name);
  };

  const bar = new KernelBar(
    kernel,
    {
      switchKernel: async (name) => {
        if (!confirmRestart(kernel)) return false;
        await useKernel(name);
        return true;
      },
      newWorksheet: () => {
        if (server) return void server.list.create().catch((error: Error) => notices.show(error.message));
        const discard = "Start a new worksheet? This one's cells and outputs will be discarded (Download .ipynb keeps a copy).";
        if (!worksheet.isBlank && !confirm(discard)) return;
        worksheet.replaceAll([new Cell("code")], "Untitled");
        bar.titleInput.value = worksheet.title;
        void kernel.restart();
        view.focusSelected(true);
      },
      runAll: () => {
        view.renderAllMarkdown();
        runner.runAll();
      },
      restartAndRunAll: async () => {
        await kernel.restart();
        view.renderAllMarkdown();
        runner.runAll();
      },
      clearOutputs: () => runner.clearAllOutputs(),
      download: () => {
        if (server) void server.store.saveNow();
        else store.saveNow();
        const blob = new Blob([JSON.stringify(toNotebook(worksheet), null, 1) + "\n"], { type: "application/x-ipynb+json" });
        const link = document.createElement("a");
        link.href = URL.createObjectURL(blob);
        link.download = notebookFileName(worksheet.title);
        document.body.append(link);
        link.click();
        link.remove();
        setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
      },
      open: async (file) => {
        try {
          const { cells, title, kernelName } = fromNotebook(JSON.parse(await file.text()));
          server?.store.startAnew();
          worksheet.replaceAll(cells, title || file.name.replace(/\.ipynb$/i, ""));
          bar.titleInput.value = worksheet.title;
          void useKernel(kernelName);
          notices.show(`Opened ${file.name} (${cells.length} cells).`);
          view.focusSelected();
        } catch (error) {
          notices.show(`Could not open ${file.name}: ${(error as Error).message}`);
        }
      },
      rename: (title) => {
        worksheet.title = title;
        bar.titleInput.value = worksheet.title;
        void server?.store.renameTo(title).then(
          (done) => done || notices.show(`A worksheet named "${title}" exists already: this one keeps its file name.`),
          (error: Error) => notices.show(error.message),
        );
      },
    },
    worksheet.title,
  );

  kernel.stateChanged.connect((state) => {
    document.body.dataset.kernelState = state;
    if (state === "dead" || state === "restarting") notices.announce(`Kernel ${state}.`);
  });

  const root = document.getElementById("app") ?? document.body;
  const extra = server?.build(notices, (title) => {
    worksheet.title = title;
    bar.titleInput.value = worksheet.title;
  });
  root.replaceChildren(bar.element, bar.banner, ...(extra?.elements ?? []), view.element, notices.element);
  const share = new ShareButton({ ...config, kernelName: () => worksheet.kernelName, code: () => codeToShare(worksheet, view) });
  bar.element.querySelector(".controls")?.append(...(extra?.groups ?? []), share.element);
  bar.element.querySelector('[aria-label="Notebook file"]')?.append(...(extra?.controls ?? []));
  worksheet.changed.connect((change) => {
    if (change.kind === "reset") bar.titleInput.value = worksheet.title;
  });
  if (linked) void openLinked(linked, worksheet, view, runner).then((title) => (bar.titleInput.value = title));
  reopenOnLinkedHash();
  view.focusSelected(true);
  performance.mark("cellhub:ready");
  if (server) {
    server.store.watch();
    if (server.opening) notices.show(server.opening, undefined, 10_000);
    void kernel.start(server.store.previousKernel || null).then(() => server.kernelStarted(kernel, worksheet, view, notices));
  } else void kernel.start();
  // For tests and benchmarks: the live objects, never used by the page itself.
  (window as unknown as { cellhub: unknown }).cellhub = { worksheet, kernel, runner, view, widgets, store: server?.store };
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", () => void boot());
else void boot();
