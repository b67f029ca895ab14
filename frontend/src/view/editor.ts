/**
 * The CodeMirror 6 editor of a cell: Python highlighting, bracket matching, auto-indent,
 * Tab completion and Shift+Tab docstrings from the kernel, and Jupyter's run keys.
 */
import {
  autocompletion,
  acceptCompletion,
  closeBrackets,
  closeBracketsKeymap,
  completionKeymap,
  completionStatus,
  startCompletion,
  type Completion,
  type CompletionContext,
  type CompletionResult,
} from "@codemirror/autocomplete";
import { defaultKeymap, history, historyKeymap, indentLess, indentMore } from "@codemirror/commands";
import { python } from "@codemirror/lang-python";
import { HighlightStyle, bracketMatching, indentOnInput, indentUnit, syntaxHighlighting } from "@codemirror/language";
import { Compartment, EditorState, Prec, StateEffect, StateField } from "@codemirror/state";
import { EditorView, drawSelection, keymap, placeholder, showTooltip, type Tooltip } from "@codemirror/view";
import { tags } from "@lezer/highlight";
import { renderAnsi } from "../render/ansi";

export type RunMode = "next" | "stay" | "insert";

export interface CompletionReply {
  from: number;
  to: number;
  options: Completion[];
}

export interface EditorHooks {
  onChange(source: string): void;
  onRun(mode: RunMode): void;
  /** Leave the editor for command mode. */
  onEscape(): void;
  onFocus(): void;
  /** Arrow up on the first line / down on the last: returns true if focus moved to another cell. */
  onArrowOut(direction: -1 | 1): boolean;
  complete(code: string, cursor: number): Promise<CompletionReply | null>;
  inspect(code: string, cursor: number): Promise<string | null>;
}

const highlight = HighlightStyle.define([
  { tag: [tags.keyword, tags.controlKeyword, tags.operatorKeyword, tags.definitionKeyword, tags.moduleKeyword], color: "var(--tok-keyword)", fontWeight: "600" },
  { tag: [tags.string, tags.special(tags.string)], color: "var(--tok-string)" },
  { tag: [tags.number, tags.bool, tags.null], color: "var(--tok-number)" },
  { tag: tags.comment, color: "var(--tok-comment)", fontStyle: "italic" },
  { tag: [tags.function(tags.variableName), tags.function(tags.propertyName)], color: "var(--tok-function)" },
  { tag: [tags.definition(tags.variableName), tags.definition(tags.className), tags.className], color: "var(--tok-definition)" },
  { tag: [tags.self, tags.standard(tags.variableName)], color: "var(--tok-builtin)" },
  { tag: [tags.operator, tags.punctuation], color: "var(--tok-operator)" },
  { tag: tags.meta, color: "var(--tok-meta)" },
  { tag: tags.invalid, color: "var(--tok-invalid)" },
]);

const setInspection = StateEffect.define<Tooltip | null>();

const inspection = StateField.define<Tooltip | null>({
  create: () => null,
  update(value, tr) {
    for (const effect of tr.effects) if (effect.is(setInspection)) return effect.value;
    return tr.docChanged || tr.selection ? null : value;
  },
  provide: (field) => showTooltip.from(field),
});

function inspectionTooltip(pos: number, text: string): Tooltip {
  return {
    pos,
    above: false,
    create: () => {
      const dom = document.createElement("div");
      dom.className = "inspect-tooltip";
      dom.setAttribute("role", "tooltip");
      const pre = document.createElement("pre");
      pre.append(renderAnsi(text));
      dom.append(pre);
      return { dom };
    },
  };
}

export class CellEditor {
  readonly view: EditorView;
  private readonly language = new Compartment();

  constructor(parent: HTMLElement, doc: string, kind: "code" | "markdown", label: string, private readonly hooks: EditorHooks) {
    const runKeys = Prec.highest(
      keymap.of([
        { key: "Shift-Enter", run: () => (hooks.onRun("next"), true) },
        { key: "Mod-Enter", run: () => (hooks.onRun("stay"), true) },
        { key: "Alt-Enter", run: () => (hooks.onRun("insert"), true) },
        { key: "Tab", run: (view) => this.tab(view) },
        { key: "Shift-Tab", run: (view) => this.inspect(view) },
      ]),
    );
    this.view = new EditorView({
      parent,
      state: EditorState.create({
        doc,
        extensions: [
          runKeys,
          history(),
          drawSelection(),
          indentUnit.of("    "),
          EditorState.tabSize.of(4),
          indentOnInput(),
          bracketMatching(),
          closeBrackets(),
          syntaxHighlighting(highlight),
          this.language.of(kind === "code" ? python() : []),
          autocompletion({ override: [(context) => this.completionSource(context)], activateOnTyping: false, icons: false, interactionDelay: 0 }),
          inspection,
          placeholder(kind === "code" ? "Python code — Shift+Enter runs it" : "Markdown text — Shift+Enter shows it"),
          keymap.of([
            ...completionKeymap,
            { key: "Escape", run: (view) => this.escape(view) },
            { key: "ArrowUp", run: (view) => this.arrowOut(view, -1) },
            { key: "ArrowDown", run: (view) => this.arrowOut(view, 1) },
            { key: "Mod-[", run: indentLess },
            { key: "Mod-]", run: indentMore },
            ...closeBracketsKeymap,
            ...defaultKeymap,
            ...historyKeymap,
          ]),
          EditorView.contentAttributes.of({ "aria-label": label }),
          EditorView.updateListener.of((update) => {
            if (update.docChanged) hooks.onChange(update.state.doc.toString());
            if (update.focusChanged && update.view.hasFocus) hooks.onFocus();
          }),
        ],
      }),
    });
  }

  setKind(kind: "code" | "markdown"): void {
    this.view.dispatch({ effects: this.language.reconfigure(kind === "code" ? python() : []) });
  }

  setLabel(label: string): void {
    this.view.contentDOM.setAttribute("aria-label", label);
  }

  focus(at: "start" | "end" | "keep" = "keep"): void {
    if (at !== "keep") {
      const pos = at === "start" ? 0 : this.view.state.doc.length;
      this.view.dispatch({ selection: { anchor: pos } });
    }
    this.view.focus();
  }

  destroy(): void {
    this.view.destroy();
  }

  /** Tab indents at the start of a line and completes after a word, as in Jupyter. */
  private tab(view: EditorView): boolean {
    if (completionStatus(view.state) === "active") return acceptCompletion(view);
    const { main } = view.state.selection;
    const line = view.state.doc.lineAt(main.head);
    const before = line.text.slice(0, main.head - line.from);
    if (!main.empty || /^\s*$/.test(before)) return indentMore(view);
    return startCompletion(view);
  }

  private async completionSource(context: CompletionContext): Promise<CompletionResult | null> {
    if (!context.explicit) return null;
    const reply = await this.hooks.complete(context.state.doc.toString(), context.pos);
    if (!reply || reply.options.length === 0) return null;
    return { from: reply.from, to: reply.to, options: reply.options, filter: false };
  }

  private inspect(view: EditorView): boolean {
    const pos = view.state.selection.main.head;
    this.hooks.inspect(view.state.doc.toString(), pos).then(
      (text) => view.dispatch({ effects: setInspection.of(text ? inspectionTooltip(pos, text) : null) }),
      () => undefined,
    );
    return true;
  }

  private escape(view: EditorView): boolean {
    if (view.state.field(inspection)) {
      view.dispatch({ effects: setInspection.of(null) });
      return true;
    }
    this.hooks.onEscape();
    return true;
  }

  private arrowOut(view: EditorView, direction: -1 | 1): boolean {
    const { main } = view.state.selection;
    if (!main.empty) return false;
    const line = view.state.doc.lineAt(main.head);
    const edge = direction < 0 ? line.number === 1 : line.number === view.state.doc.lines;
    return edge ? this.hooks.onArrowOut(direction) : false;
  }
}
