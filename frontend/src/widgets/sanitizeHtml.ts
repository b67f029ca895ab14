/**
 * Stands in for the `sanitize-html` package that ipywidgets' ManagerBase uses to clean HTML
 * widget descriptions (`description_allow_html`). That package brings postcss and htmlparser2
 * (~70 KB gzipped); DOMPurify, which the page already trusts for markdown, does the same job.
 * build.mjs points `sanitize-html` here.
 */
import DOMPurify from "dompurify";

interface SanitizeOptions {
  allowedTags?: string[];
  allowedAttributes?: Record<string, string[]>;
}

export default function sanitize(html: string, options: SanitizeOptions = {}): string {
  const attributes = Object.values(options.allowedAttributes ?? {})
    .flat()
    .filter((name) => !name.includes("*"));
  return DOMPurify.sanitize(html, {
    ALLOWED_TAGS: options.allowedTags,
    ALLOWED_ATTR: attributes,
    ALLOW_ARIA_ATTR: true,
    ALLOW_DATA_ATTR: false,
  });
}
