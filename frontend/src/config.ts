/** The page configuration the hub renders into index.html (see hub/templates/index.html). */
export interface PageConfig {
  baseUrl: string;
  token: string;
  kernelName: string;
  version: string;
}

export function readPageConfig(): PageConfig {
  const element = document.getElementById("cellhub-config");
  const raw = element?.textContent ? (JSON.parse(element.textContent) as Partial<PageConfig>) : {};
  const baseUrl = raw.baseUrl || "/";
  return {
    baseUrl: baseUrl.endsWith("/") ? baseUrl : `${baseUrl}/`,
    token: raw.token ?? "",
    kernelName: raw.kernelName || "python3",
    version: raw.version ?? "",
  };
}
