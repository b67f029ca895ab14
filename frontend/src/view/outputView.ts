/**
 * The output area of a code cell. Model changes only mark outputs dirty; the DOM is brought up
 * to date once per animation frame, so streaming output never floods the page with layouts.
 */
import { type MimeRenderers, pageRenderers, plainText } from "../render/mime";
import { renderAnsi } from "../render/ansi";
import { h } from "../util/dom";
import { onNextFrame } from "../util/frame";
import type { Output, OutputList } from "../worksheet/outputs";
import { StreamView } from "./streamView";

interface ItemView {
  element: HTMLElement;
  stream?: StreamView;
}

export class OutputView {
  readonly element: HTMLElement;
  private items: ItemView[] = [];
  private dirty = new Set<number>();
  private needsReset = true;

  constructor(
    private readonly outputs: OutputList,
    private readonly renderers: MimeRenderers = pageRenderers,
  ) {
    this.element = h("div", { className: "outputs", role: "group", "aria-label": "Output" });
    outputs.changed.connect((change) => {
      if (change.kind === "reset") {
        this.needsReset = true;
        this.dirty.clear();
      } else this.dirty.add(change.index);
      onNextFrame(this.render);
    });
    onNextFrame(this.render);
  }

  /** Brings the DOM up to date now (tests and the first paint need not wait for a frame). */
  readonly render = (): void => {
    const all = this.outputs.all;
    if (this.needsReset) {
      this.needsReset = false;
      this.items = [];
      this.element.replaceChildren();
      this.dirty = new Set(all.map((_, i) => i));
    }
    for (const index of [...this.dirty].sort((a, b) => a - b)) {
      const output = all[index];
      if (!output) continue;
      const existing = this.items[index];
      if (existing?.stream && output.output_type === "stream") {
        existing.stream.update(output);
        continue;
      }
      const item = renderOutput(output, this.renderers);
      if (existing) existing.element.replaceWith(item.element);
      else this.element.append(item.element);
      this.items[index] = item;
    }
    this.dirty.clear();
    this.element.classList.toggle("empty", all.length === 0);
  };
}

function renderOutput(output: Output, renderers: MimeRenderers): ItemView {
  switch (output.output_type) {
    case "stream": {
      const stream = new StreamView(output);
      return { element: stream.element, stream };
    }
    case "error": {
      const text = output.traceback.length ? output.traceback.join("\n") : `${output.ename}: ${output.evalue}`;
      const pre = h("pre", { className: "traceback" }, renderAnsi(text));
      return { element: h("div", { className: "output error" }, pre) };
    }
    default: {
      let body: HTMLElement;
      try {
        body = renderers.render(output.data, output.metadata);
      } catch (error) {
        body = plainText(String(error));
      }
      return { element: h("div", { className: `output ${output.output_type.replace("_", "-")}` }, body) };
    }
  }
}
