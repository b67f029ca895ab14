/**
 * The page's side of Jupyter widgets. The widget code (ipywidgets' models and views, ~150 KB
 * gzipped) is a separate bundle, widgets.js, loaded the first time a widget shows up: a
 * `comm_open` for `jupyter.widget`, a widget-view output, or widget comms found in the kernel
 * on connect. While it loads, the kernel connection holds incoming messages, so no output meant
 * for an Output widget reaches a cell first.
 */
import type { KernelConnection } from "../kernel/connection";
import type { KernelMessage } from "../kernel/messages";
import { addRenderer } from "../render/mime";
import { h } from "../util/dom";
import type { OutputList } from "../worksheet/outputs";
import { type WidgetManagerApi, type WidgetModule, WIDGET_MODULE_GLOBAL, WIDGET_VIEW_MIME } from "./api";

const TARGET = "jupyter.widget";
const COMM_TYPES = new Set(["comm_open", "comm_msg", "comm_close"]);

/** widgets.js and widgets.css sit next to the script that loaded this page. */
const BUNDLE_BASE = (document.currentScript as HTMLScriptElement | null)?.src || location.href;

export class WidgetHost {
  private manager: Promise<WidgetManagerApi> | null = null;
  private loaded: WidgetManagerApi | null = null;
  private queued: KernelMessage[] = [];

  constructor(
    private readonly kernel: KernelConnection,
    private readonly renderOutputs: (outputs: OutputList) => HTMLElement,
  ) {
    kernel.iopub.connect((message) => this.onIOPub(message));
    kernel.connected.connect(() => void this.checkKernelComms());
    kernel.stateChanged.connect((state) => {
      if (state === "restarting" || state === "dead") this.loaded?.reset();
    });
    addRenderer(WIDGET_VIEW_MIME, (value, _metadata, bundle) => this.renderView(value, bundle));
  }

  /** The manager, loading the widget bundle on first use. */
  load(): Promise<WidgetManagerApi> {
    if (!this.manager) {
      this.manager = loadWidgetModule().then((module) => {
        const manager = module.createManager({ kernel: this.kernel, renderOutputs: this.renderOutputs });
        this.loaded = manager;
        for (const message of this.queued.splice(0)) this.apply(manager, message);
        return manager;
      });
      this.manager.catch((error: unknown) => console.error("cellhub: could not load widgets", error));
      this.kernel.hold(this.manager);
    }
    return this.manager;
  }

  private onIOPub(message: KernelMessage): void {
    if (!COMM_TYPES.has(message.header.msg_type)) return;
    if (this.loaded) {
      this.apply(this.loaded, message);
    } else if (this.manager) {
      this.queued.push(message);
    } else if (message.header.msg_type === "comm_open" && message.content.target_name === TARGET) {
      this.queued.push(message);
      void this.load();
    }
  }

  /** Later kernel messages wait until this one is applied to the widget models. */
  private apply(manager: WidgetManagerApi, message: KernelMessage): void {
    this.kernel.hold(manager.handleMessage(message));
  }

  /** After a reload or reconnect the kernel may hold widgets this page has not seen. */
  private async checkKernelComms(): Promise<void> {
    try {
      const reply = await this.kernel.request("comm_info_request", { target_name: TARGET });
      const comms = Object.values((reply.content.comms ?? {}) as Record<string, { target_name?: string }>);
      if (!comms.some((comm) => comm.target_name === TARGET)) return;
      await (await this.load()).restoreFromKernel();
    } catch (error) {
      console.warn("cellhub: could not restore widgets", error);
    }
  }

  private renderView(value: unknown, bundle: Record<string, unknown>): HTMLElement {
    const modelId = (value as { model_id?: unknown } | null)?.model_id;
    const fallback = String(bundle["text/plain"] ?? "Widget");
    const element = h("div", { className: "widget-area", "aria-busy": "true" });
    if (typeof modelId !== "string") return showFallback(element, fallback);
    this.load()
      .then((manager) => manager.display(modelId, element))
      .then(
        (shown) => {
          if (!shown) showFallback(element, fallback);
        },
        () => showFallback(element, fallback),
      )
      .finally(() => element.removeAttribute("aria-busy"));
    return element;
  }
}

function showFallback(element: HTMLElement, text: string): HTMLElement {
  element.replaceChildren(
    h("pre", { className: "text-output widget-missing", title: "This widget is not live: run the cell again." }, text),
  );
  return element;
}

function loadWidgetModule(): Promise<WidgetModule> {
  const registry = window as unknown as Record<string, WidgetModule | undefined>;
  const existing = registry[WIDGET_MODULE_GLOBAL];
  if (existing) return Promise.resolve(existing);
  const url = (name: string): string => new URL(name, BUNDLE_BASE).href;
  const load = (element: HTMLLinkElement | HTMLScriptElement): Promise<void> =>
    new Promise((resolve, reject) => {
      element.onload = () => resolve();
      element.onerror = () => reject(new Error(`could not load ${"src" in element ? element.src : element.href}`));
      document.head.append(element);
    });
  const style = h("link", { rel: "stylesheet", href: url("widgets.css") });
  const script = h("script", { src: url("widgets.js"), async: true });
  return Promise.all([load(style), load(script)]).then(() => {
    const module = registry[WIDGET_MODULE_GLOBAL];
    if (!module) throw new Error("widgets.js did not register itself");
    return module;
  });
}
