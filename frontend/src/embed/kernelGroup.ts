/**
 * The cells of a page that share one kernel: started on the first run (or the first Tab
 * completion), then reused, and shut down when the page goes away (`release`, on pagehide).
 * Each group has its own widget manager and output renderers, so a widget is shown and driven
 * by the kernel that made it, however many kernels the page holds.
 */
import { KernelConnection } from "../kernel/connection";
import { KernelsApi } from "../kernel/rest";
import { MimeRenderers } from "../render/mime";
import type { CompletionReply } from "../view/editor";
import { KernelHints } from "../view/kernelHints";
import { WidgetHost } from "../widgets/host";
import type { Cell } from "../worksheet/cell";
import { Runner } from "../worksheet/runner";
import { Worksheet } from "../worksheet/worksheet";

export class KernelGroup {
  readonly kernel: KernelConnection;
  readonly renderers: MimeRenderers;
  readonly widgets: WidgetHost;
  private readonly worksheet = new Worksheet();
  private readonly runner: Runner;
  private readonly hints: KernelHints;
  private started = false;

  /** `rememberKey` names the kernel in sessionStorage while the page lives (see `release`). */
  constructor(hubUrl: string, token: string, kernelName: string, rememberKey: string) {
    this.kernel = new KernelConnection(new KernelsApi(hubUrl, token), kernelName, rememberKey);
    this.renderers = new MimeRenderers(hubUrl);
    this.runner = new Runner(this.kernel, this.worksheet);
    this.hints = new KernelHints(this.kernel);
    // widgets.js and widgets.css come from the hub, as embed.js did, not from the page's site.
    this.widgets = new WidgetHost(this.kernel, { renderers: this.renderers, bundleBase: new URL("static/", new URL(hubUrl, location.href)).href });
  }

  /** A cell of the group, and the data files it names: the kernel starts with all its cells' files. */
  add(cell: Cell, files: string[] = []): void {
    this.worksheet.replaceAll([...this.worksheet.cells, cell], "embedded");
    const all = new Set([...((this.kernel.api.startExtras.files as string[] | undefined) ?? []), ...files]);
    if (all.size) this.kernel.api.startExtras = { ...this.kernel.api.startExtras, files: [...all] };
  }

  run(cell: Cell): void {
    this.start();
    this.runner.run(cell);
  }

  answerInput(cell: Cell, value: string): void {
    this.runner.answerInput(cell, value);
  }

  /** Tab asks the kernel, starting it if no cell has run yet: the reply waits for the start. */
  complete(code: string, cursor: number): Promise<CompletionReply | null> {
    this.start();
    return this.hints.complete(code, cursor);
  }

  inspect(code: string, cursor: number): Promise<string | null> {
    this.start();
    return this.hints.inspect(code, cursor);
  }

  /** The page is going away: shut the kernel down; a later run (back-forward cache) starts anew. */
  release(): void {
    this.started = false;
    this.kernel.release();
  }

  private start(): void {
    if (this.started) return;
    this.started = true;
    void this.kernel.start();
  }
}
