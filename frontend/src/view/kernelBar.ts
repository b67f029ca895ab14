/**
 * The page header: worksheet title, the kernel's state, the kernel's language (a choice among
 * the kernel specs the hub offers, shown when it offers more than one), kernel controls, a new worksheet,
 * notebook download and open, the keyboard help, and a banner for a lost connection or a dead
 * kernel. Actions that throw work away (a restart that loses the kernel's variables, a new
 * worksheet that discards cells) ask first, with the browser's own `confirm()` dialog: it is
 * modal, keyboard- and screen-reader-accessible, and needs no code of ours.
 */
import { COMMAND_MODE_HELP } from "../keyboard/shortcuts";
import type { KernelConnection, KernelState } from "../kernel/connection";
import { h } from "../util/dom";

export interface KernelBarActions {
  /** Run the worksheet's code in a kernel of spec `name` from now on; false if the person declined. */
  switchKernel(name: string): Promise<boolean>;
  newWorksheet(): void;
  runAll(): void;
  restartAndRunAll(): void;
  clearOutputs(): void;
  download(): void;
  open(file: File): void;
  rename(title: string): void;
}

const STATE_TEXT: Record<KernelState, string> = {
  connecting: "connecting",
  starting: "starting",
  idle: "idle",
  busy: "busy",
  restarting: "restarting",
  reconnecting: "reconnecting",
  dead: "dead",
};

/** Whether to go on with a restart: asks only when code has run in the kernel since it started. */
export function confirmRestart(kernel: KernelConnection): boolean {
  return !kernel.holdsState || confirm("Restart the kernel? Its variables and imported modules will be lost.");
}

export class KernelBar {
  readonly element: HTMLElement;
  readonly banner: HTMLElement;
  private readonly state: HTMLElement;
  private readonly bannerText: HTMLElement;
  private readonly bannerRestart: HTMLButtonElement;
  readonly titleInput: HTMLInputElement;
  readonly kernelChoice: HTMLSelectElement;

  constructor(
    private readonly kernel: KernelConnection,
    actions: KernelBarActions,
    title: string,
  ) {
    /** `wide` words show only where there is room (app.css); the button's name keeps them. */
    const button = (label: string, onClick: () => void, extra: Record<string, string> = {}, wide = "", end = ""): HTMLButtonElement =>
      h("button", { type: "button", onclick: onClick, ...extra }, label, wide ? h("span", { className: "wide-only" }, wide) : null, end);
    this.state = h("span", { className: "kernel-state", role: "status", "aria-live": "polite", "data-state": kernel.state });
    this.titleInput = h("input", {
      className: "title",
      type: "text",
      value: title,
      "aria-label": "Worksheet title",
      spellcheck: "false",
      onchange: () => actions.rename(this.titleInput.value),
    });
    const fileInput = h("input", {
      type: "file",
      accept: ".ipynb,application/x-ipynb+json,application/json",
      className: "visually-hidden",
      tabindex: -1,
      "aria-hidden": "true",
      onchange: () => {
        const file = fileInput.files?.[0];
        if (file) actions.open(file);
        fileInput.value = "";
      },
    });
    this.kernelChoice = h("select", {
      className: "kernel-choice",
      "aria-label": "Kernel",
      hidden: true,
      onchange: () => {
        const wanted = this.kernelChoice.value;
        void actions.switchKernel(wanted).then((switched) => {
          if (!switched) this.kernelChoice.value = kernel.kernelName;
        });
      },
    });
    const help = h(
      "details",
      { className: "shortcuts" },
      h("summary", {}, "Keyboard shortcuts"),
      h("dl", {}, ...COMMAND_MODE_HELP.flatMap(([keys, what]) => [h("dt", {}, keys), h("dd", {}, what)])),
    );
    this.element = h(
      "header",
      { className: "topbar" },
      h("div", { className: "brand-row" }, h("span", { className: "brand" }, "cellhub"), this.titleInput, this.kernelChoice, this.state),
      h(
        "div",
        { className: "controls" },
        h(
          "div",
          { role: "toolbar", "aria-label": "Kernel", className: "group" },
          button("Run all", () => actions.runAll()),
          button("Interrupt", () => void kernel.interrupt().catch(() => undefined), { "aria-keyshortcuts": "I I" }),
          button("Restart", () => confirmRestart(kernel) && void kernel.restart(), { "aria-keyshortcuts": "0 0" }),
          button("Restart & run all", () => confirmRestart(kernel) && actions.restartAndRunAll()),
          button("Clear", () => actions.clearOutputs(), {}, " outputs"),
        ),
        h(
          "div",
          { role: "toolbar", "aria-label": "Notebook file", className: "group" },
          button("New", () => actions.newWorksheet(), {}, " worksheet"),
          button("Download", () => actions.download(), {}, " .ipynb"),
          button("Open", () => fileInput.click(), {}, " .ipynb", "…"),
          fileInput,
        ),
        help,
      ),
    );
    this.bannerText = h("span", {});
    this.bannerRestart = h("button", { type: "button", hidden: true, onclick: () => void kernel.restart() }, "Restart kernel");
    this.banner = h("div", { className: "banner", role: "alert", hidden: true }, this.bannerText, this.bannerRestart);
    kernel.stateChanged.connect(() => this.refresh());
    kernel.notice.connect((text) => this.showNotice(text));
    this.refresh();
    void this.listKernels();
  }

  /** Offer the hub's kernel specs; the choice stays hidden while there is nothing to choose. */
  private async listKernels(): Promise<void> {
    const offered = await this.kernel.api.specs().catch(() => null);
    const specs = Object.values(offered?.kernelspecs ?? {});
    this.kernelChoice.replaceChildren(...specs.map((spec) => h("option", { value: spec.name }, spec.spec.display_name)));
    this.kernelChoice.value = this.kernel.kernelName;
    this.kernelChoice.hidden = specs.length < 2;
  }

  private refresh(): void {
    const state = this.kernel.state;
    this.state.dataset.state = state;
    this.state.replaceChildren(h("span", { className: "wide-only" }, "Kernel: "), STATE_TEXT[state]);
    this.bannerRestart.hidden = state !== "dead";
    if (state === "dead" && !this.bannerText.textContent) this.showNotice("The kernel is dead.");
    if (state === "idle" || state === "busy") this.showNotice("");
  }

  private showNotice(text: string): void {
    if (!text && this.kernel.state === "dead") return;
    this.bannerText.textContent = text;
    this.banner.hidden = !text;
    this.banner.dataset.state = this.kernel.state;
  }
}
