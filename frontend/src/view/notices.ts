/** What the page tells people besides outputs: a screen-reader live region and a toast with an action. */
import { h } from "../util/dom";

export class Notices {
  readonly element: HTMLElement;
  private readonly live: HTMLElement;
  private readonly toast: HTMLElement;
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor() {
    this.live = h("div", { className: "visually-hidden", "aria-live": "polite", "aria-atomic": "true" });
    this.toast = h("div", { className: "toast", role: "status", hidden: true });
    this.element = h("div", { className: "notices" }, this.live, this.toast);
  }

  /** Read out by screen readers, not shown. */
  announce(text: string): void {
    this.live.textContent = "";
    setTimeout(() => (this.live.textContent = text), 30);
  }

  /** A short visible message, optionally with one action (Undo). */
  show(text: string, action?: { label: string; run: () => void }, ms = 6000): void {
    this.toast.replaceChildren(h("span", {}, text));
    if (action) {
      this.toast.append(
        h("button", { type: "button", className: "link", onclick: () => (this.hide(), action.run()) }, action.label),
      );
    }
    this.toast.hidden = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.hide(), ms);
  }

  hide(): void {
    this.toast.hidden = true;
  }
}
