/**
 * The cell toolbar's icons, as inline SVG paths on a 24-unit grid drawn in the text colour.
 * Drawn rather than typed: symbol characters such as ▶ turn into colour emoji on some phones
 * and differ in size and weight from one font to the next.
 */
const PATHS = {
  run: "M8 5v14l11-7z",
  up: "M4 12l1.4 1.4L11 7.8V20h2V7.8l5.6 5.6L20 12l-8-8z",
  down: "M20 12l-1.4-1.4-5.6 5.6V4h-2v12.2l-5.6-5.6L4 12l8 8z",
  insertAbove: "M4 3h16v2H4zm7 6h2v4h4v2h-4v4h-2v-4H7v-2h4z",
  insertBelow: "M4 19h16v2H4zm7-16h2v4h4v2h-4v4h-2V9H7V7h4z",
  remove: "M6 19a2 2 0 002 2h8a2 2 0 002-2V7H6zM19 4h-3.5l-1-1h-5l-1 1H5v2h14z",
} as const;

export type IconName = keyof typeof PATHS;

export function icon(name: IconName): SVGSVGElement {
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("class", "icon-svg");
  const path = document.createElementNS("http://www.w3.org/2000/svg", "path");
  path.setAttribute("d", PATHS[name]);
  svg.append(path);
  return svg;
}
