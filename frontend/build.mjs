// Bundles the worksheet UI into src/cellhub/static/ (or --outdir DIR).
// The output is deterministic, so tests/test_frontend_bundle.py can rebuild it
// and compare it byte for byte with the committed bundle.
import * as esbuild from "esbuild";
import { copyFileSync, mkdirSync, rmSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const outIndex = args.indexOf("--outdir");
const outdir = outIndex >= 0 ? resolve(args[outIndex + 1]) : resolve(here, "../src/cellhub/static");
const watch = args.includes("--watch");

/** KaTeX's CSS lists woff2, woff and ttf for each font; every browser we support takes woff2,
 * so the older formats stay unresolved URLs instead of tripling the assets we ship. */
const woff2Only = {
  name: "woff2-only",
  setup(build) {
    build.onResolve({ filter: /\.(woff|ttf)$/ }, (args) => ({ path: args.path, external: true }));
  },
};

/** ipywidgets' HTML-description sanitizer, swapped for our DOMPurify-based one (see sanitizeHtml.ts). */
const sanitizeHtmlShim = {
  name: "sanitize-html-shim",
  setup(build) {
    build.onResolve({ filter: /^sanitize-html$/ }, () => ({ path: resolve(here, "src/widgets/sanitizeHtml.ts") }));
  },
};

const options = {
  // widgets.js (ipywidgets' models and views) is loaded by the page only when a widget appears.
  // admin.js is the admin view's (/admin), a page of its own.
  entryPoints: { app: resolve(here, "src/main.ts"), widgets: resolve(here, "src/widgets/index.ts"), admin: resolve(here, "src/admin/index.ts") },
  outdir,
  bundle: true,
  minify: true,
  format: "iife",
  target: ["es2020", "chrome100", "firefox100", "safari15"],
  loader: { ".woff2": "file" },
  assetNames: "fonts/[name]-[hash]",
  legalComments: "linked",
  charset: "utf8",
  logLevel: "info",
  plugins: [woff2Only, sanitizeHtmlShim],
};

/** embed.js, for third-party pages: one file, whose style sheets are strings that each embedded
 * cell puts into its own shadow root (src/embed/embeddedCell.ts). */
const embedOptions = {
  ...options,
  entryPoints: { embed: resolve(here, "src/embed/index.ts") },
  loader: { ".css": "text" },
  plugins: [],
};

const bundles = ["app", "widgets", "embed", "admin"].flatMap((name) => [`${name}.js`, `${name}.css`, `${name}.js.LEGAL.txt`, `${name}.css.LEGAL.txt`]);
/** Files shipped as they are. threejs/: Sage's build of three.js (jupyter-threejs-sage's, the
 * version passagemath's 3-D plots name), which Sage kernels' plots load from the hub, never
 * from a CDN (src/cellhub/session/sage.py, docs/sage.md). */
const copied = ["favicon.svg", "account.css", "threejs/r122/three.min.js", "threejs/r122/LICENSE.txt"];
for (const name of [...bundles, ...copied, "fonts", "threejs"]) {
  rmSync(resolve(outdir, name), { recursive: true, force: true });
}
for (const name of copied) {
  mkdirSync(dirname(resolve(outdir, name)), { recursive: true });
  copyFileSync(resolve(here, "src", name), resolve(outdir, name));
}
if (watch) {
  for (const each of [options, embedOptions]) await (await esbuild.context(each)).watch();
} else {
  await esbuild.build(options);
  await esbuild.build(embedOptions);
}
