/**
 * The page's client of the hub's contents API (Jupyter's `/api/contents`, hub/contents_api.py)
 * and of a worksheet's history (`/api/worksheets/…`, hub/worksheets_api.py). Requests go out
 * with the page's login cookie. A save names the version it was based on (`If-Match`, the
 * version's ETag); the hub answers 409 when another tab or device saved since, which
 * `save` returns as a `Conflict` instead of throwing, for the page to offer a choice.
 */
import type { Notebook } from "../notebook/ipynb";

export interface EntryModel {
  name: string;
  path: string;
  type: "notebook" | "directory" | "file";
  last_modified: string;
  content: unknown;
}

export interface Opened {
  notebook: Notebook;
  model: EntryModel;
  /** The version the notebook is, as the hub names it (its ETag). */
  etag: string;
}

export interface Saved {
  model: EntryModel;
  etag: string;
}

/** Another save came first; `etag` names the version now current. */
export interface Conflict {
  conflict: true;
  etag: string;
}

export interface VersionInfo {
  number: number;
  created: string;
  size: number;
  checkpoint: boolean;
}

export class ContentsError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

/** Each name of a path escaped on its own, as the hub's routes take it. */
export function escapePath(path: string): string {
  return path.split("/").map(encodeURIComponent).join("/");
}

/** A refusal's reason: the hub's JSON `message`, or the status text when there is none. */
export async function messageOf(response: Response): Promise<string> {
  try {
    return ((await response.json()) as { message?: string }).message ?? response.statusText;
  } catch {
    return response.statusText; // not JSON: the status text says it
  }
}

/** Keepalive requests (sent as the page goes) may carry at most 64 KiB, in every browser. */
const KEEPALIVE_LIMIT = 60 * 1024;

export class ContentsApi {
  constructor(readonly baseUrl: string) {}

  async list(folder = ""): Promise<EntryModel[]> {
    const model = (await this.json("GET", `api/contents/${escapePath(folder)}`)) as { content: EntryModel[] };
    return model.content;
  }

  async open(path: string): Promise<Opened> {
    const response = await this.call("GET", `api/contents/${escapePath(path)}?type=notebook`);
    const model = (await response.json()) as EntryModel;
    return { notebook: model.content as Notebook, model, etag: response.headers.get("ETag") ?? "" };
  }

  /** A new empty worksheet, named by the hub ("Untitled3.ipynb"). */
  async createUntitled(): Promise<Saved> {
    return this.saved(await this.call("POST", "api/contents", { ext: ".ipynb" }));
  }

  /** Save `notebook` at `path`; `etag`: the version it was based on ("" when none). */
  async save(path: string, notebook: Notebook, etag: string): Promise<Saved | Conflict> {
    const response = await this.send("PUT", `api/contents/${escapePath(path)}`, { type: "notebook", content: notebook }, etag);
    if (response.status === 409) return { conflict: true, etag: response.headers.get("ETag") ?? "" };
    return this.saved(await this.checked(response, "PUT", path));
  }

  /** The same save, sent so that it outlives the page, when it is small enough to. */
  saveAsPageLeaves(path: string, notebook: Notebook, etag: string): boolean {
    const body = JSON.stringify({ type: "notebook", content: notebook });
    if (body.length > KEEPALIVE_LIMIT) return false;
    const headers: Record<string, string> = { "Content-Type": "application/json" };
    if (etag) headers["If-Match"] = etag;
    fetch(this.url(`api/contents/${escapePath(path)}`), { method: "PUT", headers, body, credentials: "same-origin", keepalive: true }).catch(
      () => undefined,
    );
    return true;
  }

  async rename(path: string, to: string): Promise<EntryModel> {
    return (await this.json("PATCH", `api/contents/${escapePath(path)}`, { path: to })) as EntryModel;
  }

  async duplicate(path: string): Promise<EntryModel> {
    const folder = path.includes("/") ? path.slice(0, path.lastIndexOf("/")) : "";
    return (await this.json("POST", `api/contents/${escapePath(folder)}`, { copy_from: path })) as EntryModel;
  }

  async remove(path: string): Promise<void> {
    await this.call("DELETE", `api/contents/${escapePath(path)}`);
  }

  /** Upload a file (its bytes in base64); `chunk`: its piece's number, -1 for the last. */
  async upload(path: string, base64: string, chunk?: number): Promise<EntryModel> {
    const body: Record<string, unknown> = { type: "file", format: "base64", content: base64 };
    if (chunk !== undefined) body.chunk = chunk;
    return (await this.json("PUT", `api/contents/${escapePath(path)}`, body)) as EntryModel;
  }

  async makeFolder(path: string): Promise<EntryModel> {
    return (await this.json("PUT", `api/contents/${escapePath(path)}`, { type: "directory" })) as EntryModel;
  }

  /** Where the file downloads from (hub/files_download.py). */
  fileUrl(path: string): string {
    return this.url(`files/${escapePath(path)}?download=1`).href;
  }

  async history(path: string): Promise<VersionInfo[]> {
    const listed = (await this.json("GET", `api/worksheets/history/${escapePath(path)}`)) as { versions: VersionInfo[] };
    return listed.versions;
  }

  async version(path: string, number: number): Promise<Notebook> {
    const model = (await this.json("GET", `api/worksheets/versions/${number}/${escapePath(path)}`)) as EntryModel;
    return model.content as Notebook;
  }

  /** Make version `number` the newest; a Conflict when the worksheet moved on since `etag`. */
  async restore(path: string, number: number, etag: string): Promise<Opened | Conflict> {
    const response = await this.send("POST", `api/worksheets/restore/${number}/${escapePath(path)}`, undefined, etag);
    if (response.status === 409) return { conflict: true, etag: response.headers.get("ETag") ?? "" };
    const model = (await (await this.checked(response, "POST", path)).json()) as EntryModel;
    return { notebook: model.content as Notebook, model, etag: response.headers.get("ETag") ?? "" };
  }

  private async saved(response: Response): Promise<Saved> {
    return { model: (await response.json()) as EntryModel, etag: response.headers.get("ETag") ?? "" };
  }

  private url(path: string): URL {
    return new URL(path, new URL(this.baseUrl, location.href));
  }

  private send(method: string, path: string, body?: unknown, etag = ""): Promise<Response> {
    const headers: Record<string, string> = {};
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (etag) headers["If-Match"] = etag;
    const init: RequestInit = { method, headers, credentials: "same-origin" };
    if (body !== undefined) init.body = JSON.stringify(body);
    return fetch(this.url(path), init);
  }

  private async checked(response: Response, method: string, path: string): Promise<Response> {
    if (response.ok) return response;
    const message = await messageOf(response);
    throw new ContentsError(response.status === 413 ? message : `${method} ${path}: ${message}`, response.status);
  }

  private async call(method: string, path: string, body?: unknown): Promise<Response> {
    return this.checked(await this.send(method, path, body), method, path);
  }

  private async json(method: string, path: string, body?: unknown): Promise<unknown> {
    return (await this.call(method, path, body)).json();
  }
}
