// Bundles the worksheet UI into src/cellhub/static/ (or --outdir DIR).
// The output is deterministic, so tests/test_frontend_bundle.py can rebuild it
// and compare it byte for byte with the committed bundle.
import * as esbuild from "esbuild";
import { rmSync, mkdirSync } from "node:fs";
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

const options = {
  entryPoints: { app: resolve(here, "src/main.ts") },
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
  plugins: [woff2Only],
};

for (const name of ["app.js", "app.css", "app.js.LEGAL.txt", "app.css.LEGAL.txt", "fonts"]) {
  rmSync(resolve(outdir, name), { recursive: true, force: true });
}
mkdirSync(outdir, { recursive: true });
if (watch) {
  const context = await esbuild.context(options);
  await context.watch();
} else {
  await esbuild.build(options);
}
