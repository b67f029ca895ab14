/**
 * The Files panel's "Cloud" section (issue 17): the Dropbox, Google Drive, S3 or WebDAV
 * folders a person links to a folder of their files, each with a pull (the files' folder
 * becomes a copy of the cloud folder) and a push (the other way). The hub does the syncs
 * with rclone (hub/cloud_api.py); this section only lists the links, edits them in an
 * inline form and asks for syncs. Secrets never come back from the hub, so editing a link
 * leaves a password field empty ("unchanged") and sends it only when typed again.
 */
import { h } from "../util/dom";
import type { CloudApi, CloudKind, RemoteLink, RemoteModel, SyncDirection } from "./cloudApi";

/** What a sync button says, and what it does in words, for its tooltip and its status. */
const DIRECTIONS: Record<SyncDirection, { label: string; doing: string; title: string }> = {
  pull: { label: "Pull", doing: "Pulling", title: "Bring from cloud" },
  push: { label: "Push", doing: "Pushing", title: "Send to cloud" },
};

/** An option's key as a label: "secret_access_key" reads "secret access key". */
function labelOf(key: string): string {
  return key.replaceAll("_", " ");
}

function field(label: string, input: HTMLInputElement | HTMLSelectElement): HTMLElement {
  return h("label", { className: "cloud-field" }, h("span", {}, label), input);
}

/** The inline form that links a folder or edits a link. */
class RemoteForm {
  readonly element: HTMLFormElement;
  private readonly name = h("input", { type: "text", required: true, autocomplete: "off" });
  private readonly kind = h("select", { "aria-label": "Kind" });
  private readonly options = h("div", { className: "cloud-options" });
  private readonly path = h("input", { type: "text", autocomplete: "off" });
  private readonly folder = h("input", { type: "text", autocomplete: "off" });
  /** Whether the person typed a folder; until then it follows the name. */
  private folderTyped = false;
  private editing: RemoteModel | null = null;

  constructor(
    private readonly kinds: () => Record<string, CloudKind>,
    save: (name: string, link: RemoteLink) => Promise<void>,
    cancel: () => void,
  ) {
    this.element = h(
      "form",
      { className: "cloud-form", "aria-label": "Cloud folder", hidden: true },
      field("Name", this.name),
      field("Kind", this.kind),
      this.options,
      field("Path in the cloud", this.path),
      field("Folder in my files", this.folder),
      h("div", { className: "cloud-actions" }, h("button", { type: "submit" }, "Save"), h("button", { type: "button", onclick: cancel }, "Cancel")),
    );
    this.name.addEventListener("input", () => {
      if (!this.folderTyped) this.folder.value = this.name.value;
    });
    this.folder.addEventListener("input", () => (this.folderTyped = true));
    this.kind.addEventListener("change", () => this.showOptions());
    this.element.addEventListener("submit", (event) => {
      event.preventDefault();
      void save(this.name.value.trim(), this.link());
    });
  }

  /** Show the form, empty for a new link or filled with `remote`'s non-secret values. */
  open(remote: RemoteModel | null): void {
    this.editing = remote;
    const kinds = this.kinds();
    this.kind.replaceChildren(...Object.entries(kinds).map(([kind, spec]) => h("option", { value: kind }, spec.title)));
    this.kind.value = remote?.kind ?? Object.keys(kinds)[0] ?? "";
    this.name.value = remote?.name ?? "";
    this.name.readOnly = remote !== null;
    this.path.value = remote?.path ?? "";
    this.folder.value = remote?.folder ?? "";
    this.folderTyped = remote !== null;
    this.showOptions();
    this.element.hidden = false;
    this.name.focus();
  }

  close(): void {
    this.element.hidden = true;
    this.editing = null;
  }

  /** The chosen kind's settings as text inputs and its secrets as password inputs. */
  private showOptions(): void {
    const spec = this.kinds()[this.kind.value];
    if (!spec) {
      this.options.replaceChildren();
      return;
    }
    const same = this.editing?.kind === this.kind.value ? this.editing : null;
    const settings = spec.settings.map((key) => field(labelOf(key), this.settingInput(key, spec.choices[key], same?.settings[key] ?? "")));
    const secrets = spec.secrets.map((key) => {
      const kept = same?.secrets.includes(key) ? "unchanged" : null;
      return field(labelOf(key), h("input", { type: "password", name: key, autocomplete: "new-password", placeholder: kept, "data-secret": true }));
    });
    const token = spec.secrets.includes("token")
      ? h("p", { className: "files-hint" }, "The token is what ", h("code", {}, `rclone authorize "${this.kind.value}"`), " prints on your own computer.")
      : null;
    this.options.replaceChildren(...settings, ...secrets, ...(token ? [token] : []));
  }

  /** A text input, or a choice among `choices` (with "" for rclone's default) where the
   * setting has a fixed set of values. */
  private settingInput(key: string, choices: string[] | undefined, value: string): HTMLInputElement | HTMLSelectElement {
    if (!choices) return h("input", { type: "text", name: key, autocomplete: "off", value });
    // Named by aria-label: a label around a select would take in its options' text too.
    const select = h("select", { name: key, "aria-label": labelOf(key) }, h("option", { value: "" }, "(default)"), ...choices.map((choice) => h("option", { value: choice }, choice)));
    select.value = value;
    return select;
  }

  /** What to send: every setting (an empty one clears it), and only the secrets typed. */
  private link(): RemoteLink {
    const settings: Record<string, string> = {};
    for (const input of this.options.querySelectorAll<HTMLInputElement | HTMLSelectElement>("input, select")) {
      if (!input.hasAttribute("data-secret") || input.value) settings[input.name] = input.value;
    }
    return { kind: this.kind.value, path: this.path.value.trim(), folder: this.folder.value.trim(), settings };
  }
}

export class CloudPanel {
  readonly element: HTMLElement;
  private readonly list = h("ul", { className: "cloud-remotes" });
  private readonly message = h("p", { className: "cloud-message", role: "alert", hidden: true });
  private readonly status = h("p", { className: "files-hint", role: "status" });
  private readonly unavailable = h("p", { className: "files-hint", hidden: true }, "Cloud sync needs rclone on the hub.");
  /** Hidden until the hub's listing has said which kinds it offers: a form opened before
   * would have none to choose from. */
  private readonly linkButton = h("button", { type: "button", hidden: true }, "Link a folder");
  private readonly form: RemoteForm;
  private kinds: Record<string, CloudKind> = {};

  /** `pulled`: reloads the files list, which a pull changed. */
  constructor(
    private readonly api: CloudApi,
    private readonly pulled: () => Promise<void>,
    private readonly say: (text: string) => void,
  ) {
    this.form = new RemoteForm(
      () => this.kinds,
      (name, link) => this.attempt(() => this.save(name, link)),
      () => this.form.close(),
    );
    this.linkButton.addEventListener("click", () => this.form.open(null));
    this.element = h(
      "section",
      { className: "cloud-section", "aria-label": "Cloud" },
      h("h3", {}, "Cloud"),
      this.unavailable,
      this.message,
      this.status,
      this.list,
      this.linkButton,
      this.form.element,
    );
  }

  /** Ask the hub for the links again; a failure shows in the section, never throws. */
  async refresh(): Promise<void> {
    await this.attempt(async () => undefined);
  }

  private async show(): Promise<void> {
    const listing = await this.api.listing();
    this.kinds = listing.kinds;
    this.unavailable.hidden = listing.available;
    this.linkButton.hidden = !listing.available;
    this.list.replaceChildren(...listing.remotes.map((remote) => this.row(remote)));
  }

  private row(remote: RemoteModel): HTMLElement {
    const act = (label: string, title: string, run: () => Promise<void>): HTMLButtonElement =>
      h("button", { type: "button", className: "link", "aria-label": `${label} ${remote.name}`, title, onclick: () => void this.attempt(run) }, label);
    const sync = (direction: SyncDirection): HTMLButtonElement => {
      const words = DIRECTIONS[direction];
      return act(words.label, words.title, () => this.sync(remote, direction));
    };
    const when = remote.last_sync ? ` (${new Date(remote.last_sync).toLocaleString()})` : "";
    return h(
      "li",
      { "data-remote": remote.name },
      h("span", {}, h("strong", {}, remote.name), ` ${this.kinds[remote.kind]?.title ?? remote.kind}: ${remote.folder}/ ↔ ${remote.path || "/"}`),
      h("span", { className: "cloud-result" }, (remote.last_result || "never synced") + when),
      sync("pull"),
      sync("push"),
      h("button", { type: "button", className: "link", "aria-label": `Edit ${remote.name}`, onclick: () => this.form.open(remote) }, "Edit"),
      act("Unlink", "Forget this link; your files stay", () => this.unlink(remote)),
    );
  }

  /** Run `run`, then show the links again; a refusal shows as the alert, in the hub's words. */
  private async attempt(run: () => Promise<void>): Promise<void> {
    try {
      await run();
      this.message.hidden = true;
    } catch (error) {
      this.fail((error as Error).message);
    }
    await this.show().catch((error: Error) => this.fail(error.message));
  }

  private fail(text: string): void {
    this.status.textContent = "";
    this.message.textContent = text;
    this.message.hidden = false;
    this.say(text);
  }

  private async save(name: string, link: RemoteLink): Promise<void> {
    await this.api.link(name, link);
    this.form.close();
    this.status.textContent = `Linked ${name}.`;
  }

  private async sync(remote: RemoteModel, direction: SyncDirection): Promise<void> {
    this.status.textContent = `${DIRECTIONS[direction].doing} ${remote.name}…`;
    for (const button of this.list.querySelectorAll("button")) button.disabled = true;
    const done = await this.api.sync(remote.name, direction);
    this.status.textContent = `${remote.name}: ${done.remote.last_result}`;
    if (direction === "pull") await this.pulled();
  }

  private async unlink(remote: RemoteModel): Promise<void> {
    if (!confirm(`Unlink ${remote.name}? Your files stay; the link and its secrets are forgotten.`)) return;
    await this.api.unlink(remote.name);
    this.status.textContent = `Unlinked ${remote.name}; the folder ${remote.folder} stays in your files.`;
  }
}
