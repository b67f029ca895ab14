/** The HTTP half of the Jupyter kernels API: start, look up, interrupt, restart, shut down. */
import { type NoAnswer, whyNoAnswer } from "./reachability";

export interface KernelModel {
  id: string;
  name: string;
  execution_state?: string;
}

export interface KernelSpecs {
  default: string;
  kernelspecs: Record<string, { name: string; spec: { display_name: string; language: string } }>;
}

const NO_ANSWER: Record<NoAnswer, string> = {
  "origin-not-allowed": "the cellhub does not allow requests from this page's origin (CORS)",
  unreachable: "the cellhub could not be reached",
};

/** A request that failed: what the server said, or why no answer reached the page. */
export class KernelsApiError extends Error {
  constructor(
    message: string,
    /** The HTTP status; 0 when no answer reached the page (then `noAnswer` says why). */
    readonly status: number,
    /** The server's own words (its JSON `message`, else the status text). */
    readonly detail: string,
    /** Seconds the server asked the client to wait (`Retry-After`), when it said. */
    readonly retryAfter: number | null = null,
    readonly noAnswer: NoAnswer | null = null,
    /** The server's JSON `reason`: for a kernel that ended, why it ended. */
    readonly reason: string | null = null,
  ) {
    super(message);
  }
}

/** A kernel the server no longer has, and why it ended ("" when the server does not say). */
export interface Gone {
  gone: string;
}

async function serverMessage(response: Response): Promise<{ message: string; reason: string | null }> {
  try {
    const body = (await response.json()) as { message?: string; reason?: string | null };
    return { message: body.message ?? response.statusText, reason: body.reason ?? null };
  } catch {
    return { message: response.statusText, reason: null }; // not JSON
  }
}

function retryAfter(response: Response): number | null {
  const seconds = Number.parseInt(response.headers.get("Retry-After") ?? "", 10);
  return Number.isFinite(seconds) && seconds >= 0 ? seconds : null;
}

/**
 * Without a token (the worksheet page) requests go out with the page's login cookie; with one
 * (an embedding page that was given a token) it is sent as Jupyter clients send it.
 */
export class KernelsApi {
  /** What every start adds to its body (the worksheet page marks its kernels as its own). */
  startExtras: Record<string, unknown> = {};

  constructor(
    readonly baseUrl: string,
    readonly token = "",
  ) {}

  /** The kernel specs the server offers, by name, and its default one. */
  async specs(): Promise<KernelSpecs> {
    return (await this.call("GET", "api/kernelspecs")) as KernelSpecs;
  }

  async start(name: string): Promise<KernelModel> {
    return (await this.call("POST", "api/kernels", { ...this.startExtras, name })) as KernelModel;
  }

  /** The kernel's model, or null when the server no longer knows it. */
  async get(id: string): Promise<KernelModel | null> {
    const found = await this.find(id);
    return "gone" in found ? null : found;
  }

  /** The kernel's model, or why the server no longer has it. */
  async find(id: string): Promise<KernelModel | Gone> {
    try {
      return (await this.call("GET", `api/kernels/${id}`)) as KernelModel;
    } catch (error) {
      if (error instanceof KernelsApiError && error.status === 404) return { gone: error.reason ?? "" };
      throw error;
    }
  }

  async interrupt(id: string): Promise<void> {
    await this.call("POST", `api/kernels/${id}/interrupt`);
  }

  async restart(id: string): Promise<KernelModel> {
    return (await this.call("POST", `api/kernels/${id}/restart`)) as KernelModel;
  }

  async shutdown(id: string): Promise<void> {
    await this.call("DELETE", `api/kernels/${id}`);
  }

  /**
   * Shut the kernel down as the page goes away (pagehide): a `keepalive` request outlives the
   * page. It is a DELETE, as `shutdown` sends, which a cross-origin page may send once the
   * hub's CORS preflight allows it (hub/cors.py allows DELETE and Authorization for the
   * origins in `cors_origins`); `sendBeacon` could only POST, and without the token's header.
   */
  shutdownAsPageLeaves(id: string): void {
    fetch(this.url(`api/kernels/${id}`), { ...this.init("DELETE"), keepalive: true }).catch(() => undefined);
  }

  /** The channels socket's URL; `resumeAfter`: the last message number seen (null: none). */
  channelsUrl(id: string, sessionId: string, resumeAfter: number | null): string {
    const url = this.url(`api/kernels/${id}/channels`);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    url.searchParams.set("session_id", sessionId);
    if (resumeAfter !== null) url.searchParams.set("resume", String(resumeAfter));
    if (this.token) url.searchParams.set("token", this.token);
    return url.toString();
  }

  private url(path: string): URL {
    return new URL(path, new URL(this.baseUrl, location.href));
  }

  private init(method: string, body?: unknown): RequestInit {
    const headers: Record<string, string> = {};
    if (this.token) headers.Authorization = `token ${this.token}`;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    return { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: "same-origin" };
  }

  private async call(method: string, path: string, body?: unknown): Promise<unknown> {
    let response: Response;
    try {
      response = await fetch(this.url(path), this.init(method, body));
    } catch {
      const why = await whyNoAnswer(this.baseUrl);
      throw new KernelsApiError(`${method} ${path}: ${NO_ANSWER[why]}`, 0, NO_ANSWER[why], null, why);
    }
    if (!response.ok) {
      const { message: detail, reason } = await serverMessage(response);
      const message = `${method} ${path}: ${response.status} ${detail}`;
      throw new KernelsApiError(message, response.status, detail, retryAfter(response), null, reason);
    }
    return response.status === 204 ? null : response.json();
  }
}
