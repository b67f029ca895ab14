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

/** Sent with the page's login cookie (or as an anonymous client's), never with a token. */
export async function createPermalink(baseUrl: string, code: string, kernelName: string): Promise<Permalink> {
  const response = await fetch(new URL("api/permalinks", new URL(baseUrl, location.href)), {
    method: "POST",
    headers: { "Content-Type": "application/json" },
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
