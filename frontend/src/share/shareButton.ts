/**
 * The toolbar's Share button: stores the code as a permalink and offers both the short link
 * (`/s/{id}`) and the self-contained one (`/#z=…`), each with a button that copies it, and says
 * who can open them: anyone when the deployment allows anonymous use, else only people with
 * the token or a login (others get the hub's refusal page, which asks for the token).
 */
import "./share.css";
import { h } from "../util/dom";
import { selfContainedLink } from "./links";
import { createPermalink } from "./permalinks";

export interface ShareSource {
  baseUrl: string;
  /** The kernel the code is for (the worksheet's). */
  kernelName(): string;
  /** Anyone may use this cellhub (`allow_anonymous`), so anyone may open its links. */
  allowAnonymous: boolean;
  /** The code to share (the selected cell's, say). */
  code(): string;
}

/** Who can open this cellhub's links, as the Share panel says it. */
function linkAudience(allowAnonymous: boolean): string {
  return allowAnonymous
    ? "Anyone with the link can open it and run the code on this cellhub."
    : "Only people who have the token or are logged in on this cellhub can open these links; anyone else is asked for the token.";
}

async function copyText(text: string, input: HTMLInputElement): Promise<void> {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    input.select();
    if (!document.execCommand("copy")) throw new Error("the browser refused to copy");
  }
}

export class ShareButton {
  readonly element: HTMLElement;
  private readonly panel: HTMLElement;
  private readonly shortLink: HTMLInputElement;
  private readonly longLink: HTMLInputElement;
  private readonly status: HTMLElement;

  constructor(private readonly source: ShareSource) {
    const field = (label: string, className: string): HTMLInputElement =>
      h("input", { type: "text", readonly: true, className, "aria-label": label, spellcheck: "false" });
    this.shortLink = field("Short link", "share-short");
    this.longLink = field("Self-contained link", "share-long");
    this.status = h("p", { className: "share-status", role: "status", "aria-live": "polite" });
    const row = (label: string, input: HTMLInputElement): HTMLElement =>
      h(
        "div",
        { className: "share-row" },
        h("span", {}, label),
        input,
        h("button", { type: "button", className: "share-copy", onclick: () => void this.copy(input, label) }, "Copy"),
      );
    this.panel = h(
      "div",
      { className: "share-panel", role: "dialog", "aria-label": "Share this code", hidden: true },
      row("Short link", this.shortLink),
      row("Self-contained link", this.longLink),
      h("p", { className: "share-audience" }, linkAudience(source.allowAnonymous)),
      this.status,
      h("button", { type: "button", onclick: () => this.close() }, "Close"),
    );
    this.panel.addEventListener("keydown", (event) => {
      if (event.key === "Escape") this.close();
    });
    this.element = h(
      "div",
      { className: "group share" },
      h("button", { type: "button", className: "share-button", "aria-haspopup": "dialog", onclick: () => void this.open() }, "Share"),
      this.panel,
    );
  }

  async open(): Promise<void> {
    const code = this.source.code();
    this.panel.hidden = false;
    this.shortLink.value = "";
    this.status.textContent = "Making the short link…";
    const kernelName = this.source.kernelName();
    this.longLink.value = await selfContainedLink(this.source.baseUrl, code, kernelName);
    try {
      const link = await createPermalink(this.source.baseUrl, code, kernelName);
      this.shortLink.value = link.url;
      this.status.textContent = "";
      this.shortLink.focus();
      this.shortLink.select();
    } catch (error) {
      this.status.textContent = `No short link: ${(error as Error).message}. The self-contained link works without one.`;
    }
  }

  close(): void {
    this.panel.hidden = true;
  }

  private async copy(input: HTMLInputElement, label: string): Promise<void> {
    if (!input.value) return;
    try {
      await copyText(input.value, input);
      this.status.textContent = `${label} copied.`;
    } catch (error) {
      this.status.textContent = `Could not copy: ${(error as Error).message}`;
    }
  }
}
