/**
 * text/html outputs render in a sandboxed iframe: `sandbox="allow-scripts"` and nothing else.
 * Without `allow-same-origin` the frame has an opaque origin, so its scripts cannot reach this
 * page's DOM, localStorage or cookies, nor call the kernels API as the user; without
 * `allow-popups` (and so `allow-popups-to-escape-sandbox`) it cannot open an unsandboxed window
 * either, nor navigate the page (no `allow-top-navigation`).
 *
 * Why a frame rather than sanitizing: much of the HTML that kernels send (pandas stylers,
 * plotly, bokeh, altair, ipywidgets fallbacks) only works with its scripts, which a sanitizer
 * would strip; the frame keeps them working and keeps them away from the page. Markdown, which
 * needs no scripts and must flow with the page, is sanitized instead (render/sanitizer.ts).
 *
 * pandas DataFrames (`table.dataframe`) look as in JupyterLab: a rule under the header, bold
 * headers, right-aligned cells, zebra rows and a hover highlight, drawn from the text colour
 * so the same rules serve the light and the dark scheme.
 *
 * Frames report their content height with postMessage; the page checks `event.source` so a
 * frame can only resize itself.
 */

const FRAME_STYLE = `
:root { color-scheme: light dark; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; }
body { margin: 0; padding: 2px 0; overflow-wrap: anywhere; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { padding: 0.25em 0.6em; border-bottom: 1px solid color-mix(in srgb, currentColor 20%, transparent); text-align: right; }
th { font-weight: 600; }
img, svg, canvas { max-width: 100%; height: auto; }
pre { white-space: pre-wrap; }
.dataframe { border: none; font-size: 12px; }
.dataframe thead { border-bottom: 1px solid color-mix(in srgb, currentColor 45%, transparent); vertical-align: bottom; }
.dataframe th, .dataframe td { border: none; padding: 0.5em; line-height: normal; vertical-align: middle; white-space: normal; }
.dataframe th { font-weight: bold; }
.dataframe tbody tr:nth-child(even) { background: color-mix(in srgb, currentColor 6%, transparent); }
.dataframe tbody tr:hover { background: rgb(3 169 244 / 20%); }
`;

const RESIZE_SCRIPT = `(function(){var last=-1;function send(){var h=Math.ceil(document.documentElement.getBoundingClientRect().height);
if(h!==last){last=h;parent.postMessage({cellhubFrameHeight:h},"*");}}
new ResizeObserver(send).observe(document.documentElement);addEventListener("load",send);send();})();`;

const attribute = (value: string): string => value.replace(/&/g, "&amp;").replace(/"/g, "&quot;");

/** Each frame's document: a frame served by the hub asks for it whenever it (re)loads. */
const frames = new Map<HTMLIFrameElement, string>();
let shellUrl: string | null = null;

/**
 * Frames load the hub's shell (hub/output_frame.py) instead of a `srcdoc`: a srcdoc document
 * inherits the page's Content-Security-Policy, which runs no inline script, while the shell
 * brings a policy of its own that lets the output's scripts run — still in an opaque origin.
 * Pages that never call this (embedded cells, under their host page's policy) keep srcdoc.
 */
export function serveFramesFrom(baseUrl: string): void {
  shellUrl = new URL("output-frame", new URL(baseUrl, location.href)).href;
}

window.addEventListener("message", (event: MessageEvent) => {
  const data = event.data as { cellhubFrameHeight?: unknown; cellhubFrameReady?: unknown } | null;
  const height = data?.cellhubFrameHeight;
  if (typeof height !== "number" && data?.cellhubFrameReady !== true) return;
  for (const [frame, doc] of frames) {
    if (!frame.isConnected) {
      frames.delete(frame);
    } else if (frame.contentWindow === event.source) {
      if (typeof height === "number") frame.style.height = `${Math.min(Math.max(height, 16), 20_000)}px`;
      else frame.contentWindow?.postMessage({ cellhubFrameHtml: doc }, "*");
      return;
    }
  }
});

/**
 * `hubUrl`: where the kernel's hub is, for the relative addresses in its outputs (Sage's 3-D
 * plots load `static/threejs/…` from the hub). A frame served by the hub resolves them against
 * the hub already; a `srcdoc` frame of an embedded cell would resolve them against the host
 * page, so its document gets a `<base>` naming the hub.
 */
export function htmlFrame(html: string, label: string, hubUrl: string | null = null): HTMLIFrameElement {
  const frame = document.createElement("iframe");
  frame.className = "html-output";
  frame.setAttribute("sandbox", "allow-scripts");
  frame.setAttribute("title", label);
  frame.setAttribute("referrerpolicy", "no-referrer");
  const base = hubUrl && !shellUrl ? `<base href="${attribute(new URL(hubUrl, location.href).href)}">` : "";
  const doc =
    `<!doctype html><html><head><meta charset="utf-8">${base}<style>${FRAME_STYLE}</style></head>` +
    `<body>${html}<script>${RESIZE_SCRIPT}</script></body></html>`;
  if (shellUrl) frame.src = shellUrl;
  else frame.srcdoc = doc;
  frames.set(frame, doc);
  return frame;
}
