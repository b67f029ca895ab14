/**
 * The page configuration the hub renders into index.html (see hub/templates/index.html).
 * It holds no token: the page's requests carry the HttpOnly login cookie (hub/login.py).
 */
export interface PageConfig {
  baseUrl: string;
  kernelName: string;
  version: string;
  /** The deployment lets anyone use it without the token (`allow_anonymous`), links included. */
  allowAnonymous: boolean;
  /** The person's worksheets live on the server (logged in); else in this browser. */
  serverWorksheets: boolean;
}

export function readPageConfig(): PageConfig {
  const element = document.getElementById("cellhub-config");
  const raw = element?.textContent ? (JSON.parse(element.textContent) as Partial<PageConfig>) : {};
  const baseUrl = raw.baseUrl || "/";
  return {
    baseUrl: baseUrl.endsWith("/") ? baseUrl : `${baseUrl}/`,
    kernelName: raw.kernelName || "python3",
    version: raw.version ?? "",
    allowAnonymous: raw.allowAnonymous === true,
    serverWorksheets: raw.serverWorksheets === true,
  };
}
