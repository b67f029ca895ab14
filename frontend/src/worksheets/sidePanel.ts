/** A panel beside the worksheet that a toolbar button opens and closes (Worksheets, History);
 * it refreshes what it shows each time it opens. */
import { h } from "../util/dom";

export abstract class SidePanel {
  readonly element: HTMLElement;
  readonly toggle: HTMLButtonElement;

  constructor(title: string, className: string, ...children: Node[]) {
    this.element = h(
      "aside",
      { className: `side-panel ${className}`, "aria-label": title, hidden: true },
      h("h2", {}, title),
      ...children,
    );
    this.toggle = h("button", { type: "button", "aria-expanded": "false", onclick: () => void this.flip() }, title);
  }

  private async flip(): Promise<void> {
    this.element.hidden = !this.element.hidden;
    this.toggle.setAttribute("aria-expanded", String(!this.element.hidden));
    if (!this.element.hidden) await this.refresh();
  }

  abstract refresh(): Promise<void>;
}
