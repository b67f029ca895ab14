/**
 * widgets.css wherever widget views are shown. In the worksheet that is the document: a
 * `<link>` in its head. An embedded cell lives in a shadow root, which the document's sheets
 * do not reach and the page's must not be touched by: there the sheet's text goes into a
 * `<style>` in that root, fetched once from the hub (its origin is allowed by the hub's CORS
 * settings, as for the kernel API) and rewritten for a shadow root.
 */
import { h } from "../util/dom";
import { forShadowRoot } from "../util/shadowCss";

const applied = new WeakMap<Node, Promise<void>>();
const texts = new Map<string, Promise<string>>();

/** Settles when widgets.css at `url` applies to `root` (a detached node needs no styles). */
export function applyWidgetStyles(root: Node, url: string): Promise<void> {
  let done = applied.get(root);
  if (!done) {
    if (root instanceof ShadowRoot) done = styleShadowRoot(root, url);
    else if (root instanceof Document) done = linkInHead(root, url);
    else return Promise.resolve();
    applied.set(root, done);
  }
  return done;
}

function linkInHead(document: Document, url: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const link = h("link", { rel: "stylesheet", href: url });
    link.onload = () => resolve();
    link.onerror = () => reject(new Error(`could not load ${url}`));
    document.head.append(link);
  });
}

async function styleShadowRoot(root: ShadowRoot, url: string): Promise<void> {
  let text = texts.get(url);
  if (!text) {
    text = fetch(url, { credentials: "omit" }).then((response) => {
      if (!response.ok) throw new Error(`could not load ${url}: ${response.status}`);
      return response.text();
    });
    texts.set(url, text);
  }
  root.append(h("style", {}, forShadowRoot(await text)));
}
