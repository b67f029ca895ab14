/**
 * Links that carry their code: `#z=<base64url(zlib(code))>` (the form Sage Cell users know;
 * `?z=` works too) and `?c=<code>` in plain text, with the code's language as Sage Cell names
 * it (`lang=sage`; none: the page's kernel, `python3` unless a worksheet says otherwise). They need no database, so they work on any
 * cellhub and never expire; short links (`/s/{id}`) come from the permalinks API instead.
 */

import { cellLanguageOf, DEFAULT_KERNEL, kernelOfLanguage, languageOfKernel } from "../kernel/kinds";

/** zlib's format (RFC 1950) is what CompressionStream calls "deflate", and Python's zlib reads. */
const FORMAT = "deflate";

async function pipe(bytes: Uint8Array, stream: CompressionStream | DecompressionStream): Promise<Uint8Array> {
  const output = new Blob([bytes as BlobPart]).stream().pipeThrough(stream);
  return new Uint8Array(await new Response(output).arrayBuffer());
}

function toBase64Url(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function fromBase64Url(text: string): Uint8Array {
  const base64 = text.replace(/-/g, "+").replace(/_/g, "/").replace(/\s+/g, "");
  const binary = atob(base64 + "=".repeat((4 - (base64.length % 4)) % 4));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

export async function compressCode(code: string): Promise<string> {
  return toBase64Url(await pipe(new TextEncoder().encode(code), new CompressionStream(FORMAT)));
}

export async function decompressCode(z: string): Promise<string> {
  return new TextDecoder().decode(await pipe(fromBase64Url(z), new DecompressionStream(FORMAT)));
}

/** The self-contained link to `code`, for kernel `kernelName`, on the cellhub at `baseUrl`. */
export async function selfContainedLink(baseUrl: string, code: string, kernelName: string = DEFAULT_KERNEL): Promise<string> {
  const language = languageOfKernel(kernelName);
  return `${new URL(baseUrl, location.href).href}#z=${await compressCode(code)}${language ? `&lang=${language}` : ""}`;
}

/**
 * What a link asks the page to open: code (maybe still being decompressed), whether to run it,
 * the kernel it is for (null: the link does not say) and the code's language when it is not
 * the kernel's own (Sage Cell's `lang=gp`: GP in a Sage cell; "" otherwise).
 */
export interface LinkedCode {
  code: Promise<string>;
  run: boolean;
  kernelName: string | null;
  language: string;
}

/** The code an address carries in `#z=`, `?z=` or `?c=`, or null when it carries none. */
export function codeInAddress(url: URL): LinkedCode | null {
  const hash = new URLSearchParams(url.hash.replace(/^#/, ""));
  const run = ["1", "true", "yes"].includes(url.searchParams.get("run") ?? hash.get("run") ?? "");
  const lang = hash.get("lang") ?? url.searchParams.get("lang");
  const kernelName = kernelOfLanguage(lang);
  const language = cellLanguageOf(lang);
  const z = hash.get("z") ?? url.searchParams.get("z");
  if (z) return { code: decompressCode(z), run, kernelName, language };
  const c = url.searchParams.get("c");
  if (c !== null) return { code: Promise.resolve(c), run, kernelName, language };
  return null;
}
