/**
 * The admin view's calls to the hub: the APIs of hub/accounts_api.py, hub/admin.py and
 * hub/workers_api.py. Same-origin requests carrying the HttpOnly login cookie; the page
 * holds no token.
 */

export interface Account {
  name: string;
  admin: boolean;
  group: string;
  disabled: boolean;
  created: string | null;
  /** The account's last login. */
  last_activity: string | null;
}

export interface AdminKernel {
  id: string;
  name: string;
  owner: string;
  worker: string;
  execution_state: string;
  connections: number;
  created: string;
  last_activity: string;
  memory: number | null;
}

export interface Worker {
  name: string;
  address: string;
  state: string;
  drained_by_admin: boolean;
  weight: number;
  connected: boolean;
  sessions: number | null;
  capacity: number | null;
  free: number | null;
  memory: number | null;
}

export interface ErrorRecord {
  time: string;
  level: string;
  logger: string;
  message: string;
}

/** A refused or failed call: the hub's message, for the status line. */
export class AdminError extends Error {}

async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const init: RequestInit = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers = { ...init.headers, "Content-Type": "application/json" };
  }
  const answer = await fetch(path, init);
  if (answer.status === 204) return undefined as T;
  const data = (await answer.json().catch(() => ({}))) as { message?: string };
  if (!answer.ok) throw new AdminError(data.message || `${method} ${path}: ${answer.status}`);
  return data as T;
}

export const admin = {
  users: () => call<Account[]>("GET", "/api/users"),
  createUser: (name: string, password: string, admin: boolean) =>
    call<Account>("POST", "/api/users", { name, admin, ...(password ? { password } : {}) }),
  userAction: (name: string, action: "disable" | "enable" | "reset") =>
    call<Account>("POST", `/api/users/${encodeURIComponent(name)}/${action}`),
  kernels: () => call<AdminKernel[]>("GET", "/api/admin/kernels"),
  endKernel: (id: string) => call<void>("DELETE", `/api/kernels/${encodeURIComponent(id)}`),
  workers: () => call<Worker[]>("GET", "/api/workers"),
  workerAction: (name: string, action: "drain" | "activate") =>
    call<Worker>("POST", `/api/workers/${action}`, { worker: name }),
  errors: () => call<ErrorRecord[]>("GET", "/api/admin/errors"),
};
