/**
 * ipywidgets' views label their text inputs, but not the noUiSlider handles of sliders nor the
 * groups of RadioButtons/ToggleButtons. This names them after the widget's description, so a
 * screen reader says "x, slider, 4" and keyboard users can find every control.
 */
import type { DOMWidgetView } from "@jupyter-widgets/base";

export function labelControls(view: DOMWidgetView): void {
  const apply = (): void => {
    const description = String(view.model.get("description") ?? "").replace(/<[^>]*>/g, "").trim();
    const name = description || String(view.model.get("_model_name") ?? "Control").replace(/Model$/, "");
    const handles = view.el.querySelectorAll<HTMLElement>(".noUi-handle");
    handles.forEach((handle, index) => {
      const part = handles.length === 2 ? (index === 0 ? " (lower)" : " (upper)") : "";
      handle.setAttribute("aria-label", `${name}${part}`);
    });
    for (const group of view.el.querySelectorAll<HTMLElement>(".widget-radio-box")) {
      group.setAttribute("role", "radiogroup");
      group.setAttribute("aria-label", name);
    }
    if (view.el.classList.contains("widget-toggle-buttons")) {
      view.el.setAttribute("role", "group");
      view.el.setAttribute("aria-label", name);
    }
    for (const readout of view.el.querySelectorAll<HTMLElement>(".widget-readout")) readout.setAttribute("aria-label", `${name} value`);
    for (const label of view.el.querySelectorAll<HTMLElement>('label[title="null"], label[title=""]')) label.removeAttribute("title");
    for (const control of view.el.querySelectorAll<HTMLElement>("input, select, textarea")) {
      const labelled = control.id && view.el.querySelector(`label[for="${CSS.escape(control.id)}"]`)?.textContent?.trim();
      if (!labelled && !control.closest("label") && !control.hasAttribute("aria-label")) control.setAttribute("aria-label", name);
    }
  };
  apply();
  view.listenTo(view.model, "change:description", apply);
}
