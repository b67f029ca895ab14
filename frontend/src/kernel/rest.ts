/** The HTTP half of the Jupyter kernels API: start, look up, interrupt, restart, shut down. */

export interface KernelModel {
  id: string;
  name: string;
  execution_state?: string;
}

export class KernelsApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Without a token (the worksheet page) requests go out with the page's login cookie; with one
 * (an embedding page that was given a token) it is sent as Jupyter clients send it.
 */
export class KernelsApi {
  constructor(
    readonly baseUrl: string,
    readonly token = "",
  ) {}

  async start(name: string): Promise<KernelModel> {
    return (await this.call("POST", "api/kernels", { name })) as KernelModel;
  }

  /** The kernel's model, or null when the server no longer knows it. */
  async get(id: string): Promise<KernelModel | null> {
    try {
      return (await this.call("GET", `api/kernels/${id}`)) as KernelModel;
    } catch (error) {
      if (error instanceof KernelsApiError && error.status === 404) return null;
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

  channelsUrl(id: string, sessionId: string): string {
    const url = new URL(`api/kernels/${id}/channels`, new URL(this.baseUrl, location.href));
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    url.searchParams.set("session_id", sessionId);
    if (this.token) url.searchParams.set("token", this.token);
    return url.toString();
  }

  private async call(method: string, path: string, body?: unknown): Promise<unknown> {
    const headers: Record<string, string> = {};
    if (this.token) headers.Authorization = `token ${this.token}`;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(new URL(path, new URL(this.baseUrl, location.href)), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
    });
    if (!response.ok) {
      let message = response.statusText;
      try {
        message = ((await response.json()) as { message?: string }).message ?? message;
      } catch {
        /* not JSON: keep the status text */
      }
      throw new KernelsApiError(response.status, `${method} ${path}: ${response.status} ${message}`);
    }
    return response.status === 204 ? null : response.json();
  }
}
