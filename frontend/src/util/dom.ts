/** Element construction without a framework: `h("button", {type: "button"}, "Run")`. */
type Attributes = Record<string, string | number | boolean | null | undefined | ((event: Event) => void)>;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Attributes = {},
  ...children: (Node | string | null | undefined)[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (typeof value === "function") element.addEventListener(name.replace(/^on/, ""), value);
    else if (name === "className") element.className = String(value);
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children) {
    if (child !== null && child !== undefined) element.append(child);
  }
  return element;
}

/** A button that says what it does to screen readers even when it shows only a symbol. */
export function iconButton(label: string, symbol: Node | string, onClick: () => void, extra: Attributes = {}): HTMLButtonElement {
  return h(
    "button",
    { type: "button", className: "icon", "aria-label": label, title: label, onclick: () => onClick(), ...extra },
    typeof symbol === "string" ? h("span", { "aria-hidden": "true" }, symbol) : symbol,
  );
}
