/**
 * One live cell on a third-party page: editor, Run button, status and output, built inside a
 * shadow root on the page's element, so the page's styles and ours never meet. When it cannot
 * have a kernel, or loses its connection, a message under the bar says why and what to do.
 */
import { EditorState, StateEffect } from "@codemirror/state";
import { EditorView } from "@codemirror/view";
import appCss from "../styles/app.css";
import { h } from "../util/dom";
import { forShadowRoot } from "../util/shadowCss";
import { CellEditor } from "../view/editor";
import { OutputView } from "../view/outputView";
import { Cell } from "../worksheet/cell";
import embedCss from "./embed.css";
import { explainFailure } from "./explanation";
import type { KernelGroup } from "./kernelGroup";
import type { EmbedOptions } from "./options";

const STYLE = `${forShadowRoot(appCss)}\n${embedCss}`;

export class EmbeddedCell {
  readonly cell: Cell;
  readonly root: ShadowRoot;
  private readonly runButton: HTMLButtonElement;
  private readonly status: HTMLElement;
  private readonly message: HTMLElement;
  /** The connection's latest news ("Reconnecting…", "The kernel is gone: …"). */
  private notice = "";

  constructor(
    readonly host: HTMLElement,
    code: string,
    readonly options: EmbedOptions,
    readonly group: KernelGroup,
  ) {
    this.cell = new Cell("code", code);
    this.cell.language = options.language;
    group.add(this.cell, options.files);
    host.classList.add("tex2jax_ignore", "mathjax_ignore");
    this.root = host.attachShadow({ mode: "open" });
    const style = document.createElement("style");
    style.textContent = STYLE;
    this.runButton = h("button", { type: "button", className: "cellhub-run", onclick: () => this.run() }, "Run");
    this.status = h("span", { className: "cellhub-status", role: "status", "aria-live": "polite" });
    this.message = h("p", { className: "cellhub-message", role: "alert", hidden: true });
    const editorBox = h("div", { className: `editor${options.readOnly ? " read-only" : ""}`, hidden: options.hideEditor });
    const outputs = new OutputView(this.cell.outputs, group.renderers);
    const powered = h("a", { className: "cellhub-powered", href: new URL(".", options.hubUrl).href, target: "_blank", rel: "noopener" }, "cellhub");
    this.root.append(
      style,
      h("div", { className: "cellhub-cell" }, editorBox, h("div", { className: "cellhub-bar" }, this.runButton, this.status, powered), this.message, outputs.element),
    );
    if (!options.hideEditor) this.createEditor(editorBox, code);
    this.cell.changed.connect((change) => {
      // Done shows with the run's outputs drawn, not a frame before them.
      if (change === "runState" && this.cell.runState === "idle") outputs.render();
      if (change === "runState") this.refresh();
      if (change === "input") this.askForInput();
    });
    group.kernel.stateChanged.connect(() => this.refresh());
    group.kernel.notice.connect((text) => {
      this.notice = text;
      this.refresh();
    });
    this.refresh();
    if (options.autorun) this.run();
  }

  run(): void {
    this.group.run(this.cell);
  }

  private createEditor(parent: HTMLElement, code: string): void {
    const editor = new CellEditor(parent, code, "code", "Python code", {
      onChange: (source) => (this.cell.source = source),
      onRun: () => this.run(),
      onEscape: () => editor.view.contentDOM.blur(),
      onFocus: () => undefined,
      onArrowOut: () => false,
      complete: (source, cursor) => this.group.complete(source, cursor),
      inspect: (source, cursor) => this.group.inspect(source, cursor),
    });
    if (this.options.readOnly) {
      editor.view.dispatch({ effects: StateEffect.appendConfig.of([EditorState.readOnly.of(true), EditorView.editable.of(false)]) });
    }
  }

  /** `input()` in the code: a prompt of the browser's own, since the cell has no room for one. */
  private askForInput(): void {
    const request = this.cell.inputRequest;
    if (!request) return;
    const value = window.prompt(request.prompt || "Input:") ?? "";
    this.group.answerInput(this.cell, value);
  }

  private refresh(): void {
    const runState = this.cell.runState;
    const kernelState = this.group.kernel.state;
    this.host.dataset.cellhubState = runState;
    this.runButton.disabled = runState !== "idle";
    this.status.dataset.state = kernelState;
    this.status.textContent =
      runState === "running" ? "Running…" : runState === "queued" ? "Waiting for the kernel…" : kernelState === "dead" ? "Kernel stopped" : "";
    this.message.textContent = this.explanation();
    this.message.hidden = !this.message.textContent;
  }

  private explanation(): string {
    const kernel = this.group.kernel;
    if (kernel.state === "dead") return explainFailure(kernel.failure, this.options.hubUrl, this.options.token !== "") ?? this.notice;
    return kernel.state === "reconnecting" ? this.notice : "";
  }
}
