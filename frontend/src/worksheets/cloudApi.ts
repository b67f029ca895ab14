/**
 * The page's client of the hub's cloud folders API (`/api/cloud/remotes`, hub/cloud_api.py):
 * the Dropbox, Google Drive, S3 or WebDAV folders a person links to a folder of their files,
 * and the pulls and pushes that sync them (rclone on the hub does the transfers). Requests go
 * out with the page's login cookie, as the contents API's do; a refusal throws a
 * `ContentsError` carrying the hub's own message (rclone's words when rclone failed).
 */
import { ContentsError, messageOf } from "./contentsApi";

/** A kind of cloud folder and the options its form asks for. */
export interface CloudKind {
  title: string;
  settings: string[];
  secrets: string[];
  /** The values a setting may take, where it has a fixed set. */
  choices: Record<string, string[]>;
}

/** A linked folder; its secrets are never sent back, only the names of those set. */
export interface RemoteModel {
  name: string;
  kind: string;
  path: string;
  folder: string;
  settings: Record<string, string>;
  secrets: string[];
  last_sync: string | null;
  last_result: string;
}

export interface CloudListing {
  /** Whether the hub has rclone at all. */
  available: boolean;
  kinds: Record<string, CloudKind>;
  remotes: RemoteModel[];
}

/** What a link sends; a secret left out of `settings` keeps its stored value. */
export interface RemoteLink {
  kind: string;
  path: string;
  folder: string;
  settings: Record<string, string>;
}

export interface SyncResult {
  remote: RemoteModel;
  files: number;
  bytes: number;
  /** Files a pull removed from the person's folder (absent for a push). */
  removed?: number;
}

export type SyncDirection = "pull" | "push";

export class CloudApi {
  constructor(readonly baseUrl: string) {}

  async listing(): Promise<CloudListing> {
    return (await this.call("GET", "")) as CloudListing;
  }

  async link(name: string, link: RemoteLink): Promise<RemoteModel> {
    return (await this.call("PUT", `/${encodeURIComponent(name)}`, link)) as RemoteModel;
  }

  async unlink(name: string): Promise<void> {
    await this.call("DELETE", `/${encodeURIComponent(name)}`);
  }

  async sync(name: string, direction: SyncDirection): Promise<SyncResult> {
    return (await this.call("POST", `/${encodeURIComponent(name)}/${direction}`)) as SyncResult;
  }

  /** The answer's JSON (null for 204), or a `ContentsError` with the hub's message. */
  private async call(method: string, tail: string, body?: unknown): Promise<unknown> {
    const init: RequestInit = { method, credentials: "same-origin" };
    if (body !== undefined) {
      init.headers = { "Content-Type": "application/json" };
      init.body = JSON.stringify(body);
    }
    const response = await fetch(new URL(`api/cloud/remotes${tail}`, new URL(this.baseUrl, location.href)), init);
    if (!response.ok) throw new ContentsError(await messageOf(response), response.status);
    return response.status === 204 ? null : response.json();
  }
}
