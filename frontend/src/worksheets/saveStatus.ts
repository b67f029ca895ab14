/**
 * What the page says about saving: a short status beside the title ("Saved", "Saving…"), and,
 * when another tab or device saved the worksheet first, a banner that asks which version to
 * keep: theirs (reload) or mine (saved over theirs, which stays in the history).
 */
import { h } from "../util/dom";
import type { SaveState, ServerStore } from "./serverStore";

const TEXT: Record<SaveState, string> = {
  new: "Not saved yet",
  saved: "Saved",
  unsaved: "Unsaved changes",
  saving: "Saving…",
  conflict: "Changed elsewhere",
  error: "Not saved (retrying)",
};

export class SaveStatus {
  readonly status: HTMLElement;
  readonly banner: HTMLElement;

  constructor(store: ServerStore) {
    this.status = h("span", { className: "save-state", role: "status", "data-state": store.state }, TEXT[store.state]);
    const button = (label: string, run: () => Promise<void>): HTMLButtonElement =>
      h("button", { type: "button", onclick: () => void run().catch((error: Error) => this.say(error.message)) }, label);
    this.banner = h(
      "div",
      { className: "save-conflict", role: "alert", hidden: true },
      h("span", {}, "This worksheet was saved in another tab or on another device since this page opened it."),
      button("Reload their version", () => store.reload()),
      button("Keep mine", () => store.keepMine()),
    );
    store.stateChanged.connect((state) => this.show(state));
    this.show(store.state);
  }

  private show(state: SaveState): void {
    this.status.dataset.state = state;
    this.status.textContent = TEXT[state];
    this.banner.hidden = state !== "conflict";
  }

  private say(text: string): void {
    this.status.textContent = text;
  }
}
