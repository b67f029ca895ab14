/**
 * A style sheet's text made to work inside a shadow root: a shadow root has no `:root`, so the
 * variables our sheets (and ipywidgets') declare there go on `:host`, the cell's element.
 */
export function forShadowRoot(css: string): string {
  return css.replace(/:root\b/g, ":host");
}
