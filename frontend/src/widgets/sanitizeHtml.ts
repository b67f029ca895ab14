/**
 * Stands in for the `sanitize-html` package that ipywidgets' ManagerBase uses to clean HTML
 * widget descriptions (`description_allow_html`). That package brings postcss and htmlparser2
 * (~70 KB gzipped); the page's own sanitizer (render/sanitizer.ts) does the same job with
 * ManagerBase's allowlist. build.mjs points `sanitize-html` here.
 */
import { sanitizeHtml } from "../render/sanitizer";

interface SanitizeOptions {
  allowedTags?: string[];
  allowedAttributes?: Record<string, string[]>;
}

export default function sanitize(html: string, options: SanitizeOptions = {}): string {
  const attributes = Object.values(options.allowedAttributes ?? {})
    .flat()
    .filter((name) => !name.includes("*"));
  return sanitizeHtml(html, { tags: options.allowedTags, attributes });
}
