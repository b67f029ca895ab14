/**
 * The ipywidgets views that write a model's value as HTML, writing it through the page's
 * sanitizer (render/sanitizer.ts) instead. The widget manager registers these in place of
 * @jupyter-widgets/controls' own (manager.ts).
 *
 * Where controls 5 writes kernel-supplied HTML: HTMLView and HTMLMathView put `value` into
 * `innerHTML` — these classes replace that; descriptions with `description_allow_html`
 * (DescriptionView, CheckboxView) go through the manager's `inline_sanitize`, which the manager
 * routes through the sanitizer too. Everything else — tooltips, Label values, button
 * descriptions, option labels — is set as text or as an attribute.
 *
 * `update()` replaces the parent's rather than extending it: the parent's first act is the
 * unsanitized `innerHTML` write (an `<img onerror>` fires even if replaced at once), and the
 * views above it do nothing on update.
 */
import * as controls from "@jupyter-widgets/controls";
import { showHtml } from "../render/sanitizer";

export class HTMLView extends controls.HTMLView {
  update(): void {
    showHtml(this.content, String(this.model.get("value") ?? ""));
  }
}

export class HTMLMathView extends controls.HTMLMathView {
  update(): void {
    showHtml(this.content, String(this.model.get("value") ?? ""));
    this.typeset(this.content);
  }
}
