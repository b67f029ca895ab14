/**
 * One cell on the page: prompt, toolbar, editor, rendered markdown, outputs and the input()
 * box. It shows the Cell model and forwards what the person does to CellActions.
 */
import { cellLanguages, languageName } from "../kernel/kinds";
import { renderMarkdown } from "../render/markdown";
import { h, iconButton } from "../util/dom";
import type { Cell, CellType } from "../worksheet/cell";
import { CellEditor, type CompletionReply, type RunMode } from "./editor";
import { icon } from "./icons";
import { OutputView } from "./outputView";

export interface CellActions {
  run(cell: Cell, mode: RunMode): void;
  insertNear(cell: Cell, offset: 0 | 1): void;
  remove(cell: Cell): void;
  move(cell: Cell, delta: number): void;
  setType(cell: Cell, type: CellType): void;
  select(cell: Cell): void;
  leaveEditor(cell: Cell): void;
  arrowOut(cell: Cell, direction: -1 | 1): boolean;
  answerInput(cell: Cell, value: string): void;
  complete(code: string, cursor: number): Promise<CompletionReply | null>;
  inspect(code: string, cursor: number): Promise<string | null>;
}

export class CellView {
  readonly element: HTMLElement;
  readonly editor: CellEditor;
  private readonly prompt: HTMLElement;
  private readonly rendered: HTMLElement;
  private readonly editorHost: HTMLElement;
  private readonly stdin: HTMLElement;
  private readonly typeSelect: HTMLSelectElement;
  /** The code's language, for kernels that run more than their own (Sage: GP, GAP, …). */
  private readonly languageSelect: HTMLSelectElement;
  private readonly languageTag: HTMLElement;
  private readonly outputs: OutputView;
  private readonly disconnect: () => void;
  private editingMarkdown: boolean;
  private number = 0;

  constructor(
    readonly cell: Cell,
    private readonly actions: CellActions,
    kernelName: string,
  ) {
    this.prompt = h("div", { className: "prompt", "aria-hidden": "true" });
    this.typeSelect = h(
      "select",
      { "aria-label": "Cell type", title: "Cell type", onchange: () => actions.setType(cell, this.typeSelect.value as CellType) },
      h("option", { value: "code" }, "Code"),
      h("option", { value: "markdown" }, "Markdown"),
    );
    this.languageSelect = h("select", {
      className: "cell-language",
      "aria-label": "Cell language",
      title: "Language of this cell",
      onchange: () => (cell.language = this.languageSelect.value),
    });
    this.languageTag = h("div", { className: "language-tag" });
    const toolbar = h(
      "div",
      { className: "cell-toolbar", role: "toolbar", "aria-label": "Cell actions" },
      iconButton("Run cell", icon("run"), () => actions.run(cell, "stay")),
      iconButton("Move cell up", icon("up"), () => actions.move(cell, -1)),
      iconButton("Move cell down", icon("down"), () => actions.move(cell, 1)),
      iconButton("Insert cell above", icon("insertAbove"), () => actions.insertNear(cell, 0)),
      iconButton("Insert cell below", icon("insertBelow"), () => actions.insertNear(cell, 1)),
      this.languageSelect,
      this.typeSelect,
      iconButton("Delete cell", icon("remove"), () => actions.remove(cell), { className: "icon danger" }),
    );
    this.editorHost = h("div", { className: "editor" });
    this.rendered = h("div", {
      className: "rendered-markdown",
      ondblclick: () => this.editMarkdown(),
    });
    this.outputs = new OutputView(cell.outputs);
    this.stdin = h("div", { className: "stdin", hidden: true });
    this.element = h(
      "section",
      {
        className: "cell",
        tabindex: 0,
        "data-cell-id": cell.id,
        onfocusin: () => actions.select(cell),
        onmousedown: () => actions.select(cell),
        onanimationend: (event: Event) => (event as AnimationEvent).animationName === "ran" && this.element.classList.remove("ran"),
      },
      h("div", { className: "gutter" }, this.prompt, this.languageTag),
      h("div", { className: "cell-body" }, toolbar, this.editorHost, this.rendered, this.outputs.element, this.stdin),
    );
    this.editingMarkdown = cell.type === "markdown" && cell.source.trim() === "";
    this.editor = new CellEditor(this.editorHost, cell.source, cell.type, "Cell input", {
      onChange: (source) => (cell.source = source),
      onRun: (mode) => actions.run(cell, mode),
      onEscape: () => actions.leaveEditor(cell),
      onFocus: () => actions.select(cell),
      onArrowOut: (direction) => actions.arrowOut(cell, direction),
      complete: (code, cursor) => actions.complete(code, cursor),
      inspect: (code, cursor) => actions.inspect(code, cursor),
    });
    this.disconnect = cell.changed.connect((change) => this.onChange(change));
    this.setKernel(kernelName);
    this.refreshType();
    this.refreshPrompt();
  }

  /** The worksheet's kernel: the languages offered for the cell, its kernel's own first. */
  setKernel(kernelName: string): void {
    const languages = cellLanguages(kernelName);
    this.languageSelect.replaceChildren(
      ...(languages.length ? ["", ...languages] : []).map((language) => h("option", { value: language }, languageName(language || kernelName))),
    );
    this.refreshLanguage();
  }

  get isEditingMarkdown(): boolean {
    return this.editingMarkdown;
  }

  setNumber(number: number): void {
    this.number = number;
    this.refreshLabels();
  }

  setSelected(selected: boolean): void {
    this.element.classList.toggle("selected", selected);
  }

  /** Edit mode: the caret in the editor (markdown cells switch from rendered to source). */
  edit(at: "start" | "end" | "keep" = "keep"): void {
    if (this.cell.type === "markdown" && !this.editingMarkdown) this.editMarkdown();
    this.editor.focus(at);
  }

  /** Command mode: the cell itself has focus, so single keys act on it. */
  focusCell(): void {
    this.element.focus();
  }

  /** Markdown cells show their rendered text after a run. */
  renderMarkdown(): void {
    if (this.cell.type !== "markdown") return;
    this.editingMarkdown = false;
    this.refreshType();
  }

  editMarkdown(): void {
    this.editingMarkdown = true;
    this.refreshType();
    this.editor.focus("end");
  }

  dispose(): void {
    this.disconnect();
    this.editor.destroy();
  }

  private onChange(change: string): void {
    if (change === "source" && this.editor.view.state.doc.toString() !== this.cell.source) {
      this.editor.view.dispatch({ changes: { from: 0, to: this.editor.view.state.doc.length, insert: this.cell.source } });
    }
    if (change === "type") {
      this.editingMarkdown = this.cell.type === "markdown";
      this.editor.setKind(this.cell.type);
      this.refreshType();
    }
    if (change === "language" || change === "type") this.refreshLanguage();
    // A cell shows itself done with the outputs of its run drawn, not a frame before them.
    if (change === "runState" && this.cell.runState === "idle") this.outputs.render();
    if (change === "runState" || change === "executionCount" || change === "type") this.refreshPrompt();
    if (change === "input") this.refreshInput();
  }

  private refreshType(): void {
    const markdown = this.cell.type === "markdown";
    const showRendered = markdown && !this.editingMarkdown;
    this.element.classList.toggle("markdown", markdown);
    this.element.classList.toggle("code", !markdown);
    this.typeSelect.value = this.cell.type;
    this.editorHost.hidden = showRendered;
    this.rendered.hidden = !showRendered;
    this.outputs.element.hidden = markdown;
    if (showRendered) {
      const source = this.cell.source.trim();
      this.rendered.replaceChildren(source ? renderMarkdown(source) : "");
      if (!source) this.rendered.append(h("p", { className: "placeholder" }, "Empty markdown cell — double-click or press Enter to edit."));
    }
    this.refreshLabels();
  }

  /** The choice shows on code cells of kernels with other languages; a cell in one of them
   * says so under its prompt too, where it shows when the toolbar does not. */
  private refreshLanguage(): void {
    const offered = this.languageSelect.options.length > 0 && this.cell.type === "code";
    const language = offered && [...this.languageSelect.options].some((option) => option.value === this.cell.language) ? this.cell.language : "";
    this.languageSelect.hidden = !offered;
    this.languageSelect.value = language;
    this.languageTag.textContent = language ? languageName(language) : "";
    this.languageTag.hidden = !language;
    if (language) this.element.dataset.language = language;
    else delete this.element.dataset.language;
  }

  private refreshPrompt(): void {
    const { runState, executionCount, type } = this.cell;
    // "ran": a run has just finished; app.css flashes the cell's bar once (the done state).
    const before = this.element.dataset.runState;
    if (runState !== "idle") this.element.classList.remove("ran");
    else if (before && before !== "idle") this.element.classList.add("ran");
    this.element.dataset.runState = runState;
    if (type === "markdown") this.prompt.textContent = "";
    else if (runState !== "idle") this.prompt.textContent = "[*]:";
    else this.prompt.textContent = `[${executionCount ?? " "}]:`;
    this.element.setAttribute("aria-busy", String(runState === "running"));
    this.refreshLabels();
  }

  private refreshLabels(): void {
    const kind = this.cell.type === "markdown" ? "Markdown cell" : "Code cell";
    const state = this.cell.runState === "idle" ? "" : `, ${this.cell.runState}`;
    const count = this.cell.type === "code" && this.cell.executionCount !== null ? `, run ${this.cell.executionCount}` : "";
    this.element.setAttribute("aria-label", `${kind} ${this.number}${count}${state}`);
    this.editor.setLabel(`${kind} ${this.number} input`);
  }

  private refreshInput(): void {
    const request = this.cell.inputRequest;
    this.stdin.hidden = !request;
    this.stdin.replaceChildren();
    if (!request) return;
    const input = h("input", {
      type: request.password ? "password" : "text",
      className: "stdin-input",
      "aria-label": request.prompt.trim() || "Input for the running cell",
      autocomplete: "off",
      spellcheck: "false",
    });
    const form = h(
      "form",
      {
        onsubmit: (event: Event) => {
          event.preventDefault();
          this.actions.answerInput(this.cell, input.value);
        },
      },
      h("label", { className: "stdin-prompt" }, request.prompt, input),
    );
    this.stdin.append(form);
    input.focus();
  }
}
