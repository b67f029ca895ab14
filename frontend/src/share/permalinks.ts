/** The permalinks API: `POST api/permalinks` stores code and answers with its short link. */

export interface SharedCode {
  id: string;
  code: string;
  kernelName: string;
  run: boolean;
}

export interface Permalink {
  id: string;
  url: string;
}

export async function createPermalink(baseUrl: string, token: string, code: string, kernelName: string): Promise<Permalink> {
  const headers: Record<string, string> = { "Content-Type": "application/json" };
  if (token) headers.Authorization = `token ${token}`;
  const response = await fetch(new URL("api/permalinks", new URL(baseUrl, location.href)), {
    method: "POST",
    headers,
    body: JSON.stringify({ code, kernel_name: kernelName }),
    credentials: "same-origin",
  });
  if (!response.ok) {
    let message = response.statusText;
    try {
      message = ((await response.json()) as { message?: string }).message ?? message;
    } catch {
      /* not JSON: keep the status text */
    }
    throw new Error(message);
  }
  return (await response.json()) as Permalink;
}

/** The permalink the hub rendered into this page (`/s/{id}`), if any. */
export function sharedCodeOfPage(): SharedCode | null {
  const text = document.getElementById("cellhub-config")?.textContent;
  if (!text) return null;
  const shared = (JSON.parse(text) as { shared?: SharedCode }).shared;
  return shared && typeof shared.code === "string" ? shared : null;
}
