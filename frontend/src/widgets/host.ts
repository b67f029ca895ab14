/**
 * The page's side of Jupyter widgets. The widget code (ipywidgets' models and views, ~150 KB
 * gzipped) is a separate bundle, widgets.js, loaded the first time a widget shows up: a
 * `comm_open` for `jupyter.widget`, a widget-view output, or widget comms found in the kernel
 * on connect. While it loads, the kernel connection holds incoming messages, so no output meant
 * for an Output widget reaches a cell first. There is one host per kernel: the worksheet has
 * one, a page of embedded cells one per kernel group; widgets.css goes wherever a view is shown
 * (styles.ts), the document or an embedded cell's shadow root.
 */
import type { KernelConnection } from "../kernel/connection";
import type { KernelMessage } from "../kernel/messages";
import { type MimeRenderers, pageRenderers } from "../render/mime";
import { h } from "../util/dom";
import { OutputView } from "../view/outputView";
import type { OutputList } from "../worksheet/outputs";
import { type WidgetManagerApi, type WidgetModule, WIDGET_MODULE_EVENT, WIDGET_VIEW_MIME } from "./api";
import { applyWidgetStyles } from "./styles";

const TARGET = "jupyter.widget";
const COMM_TYPES = new Set(["comm_open", "comm_msg", "comm_close"]);

/** By default widgets.js and widgets.css sit next to the script that loaded this page. */
const SCRIPT_BASE = (document.currentScript as HTMLScriptElement | null)?.src || location.href;

export interface WidgetHostOptions {
  /**
   * Where this kernel's outputs are rendered: the widget-view renderer is added there, and
   * Output widgets render their outputs with them, so each view reaches its own kernel's manager.
   */
  renderers?: MimeRenderers;
  /** The URL widgets.js and widgets.css are resolved against (an embedding page's hub). */
  bundleBase?: string;
}

/** One kernel's widgets: its comm messages, its widget manager, its widget views. */
export class WidgetHost {
  private manager: Promise<WidgetManagerApi> | null = null;
  private loaded: WidgetManagerApi | null = null;
  private queued: KernelMessage[] = [];
  private readonly renderers: MimeRenderers;
  private readonly bundleBase: string;

  constructor(
    private readonly kernel: KernelConnection,
    { renderers = pageRenderers, bundleBase = SCRIPT_BASE }: WidgetHostOptions = {},
  ) {
    this.renderers = renderers;
    this.bundleBase = bundleBase;
    kernel.iopub.connect((message) => this.onIOPub(message));
    kernel.connected.connect(() => void this.checkKernelComms());
    kernel.stateChanged.connect((state) => {
      if (state === "restarting" || state === "dead") this.loaded?.reset();
    });
    renderers.add(WIDGET_VIEW_MIME, (value, _metadata, bundle) => this.renderView(value, bundle));
  }

  /** The manager, loading the widget bundle on first use. */
  load(): Promise<WidgetManagerApi> {
    if (!this.manager) {
      this.manager = loadWidgetModule(this.bundleUrl("widgets.js")).then((module) => {
        const renderOutputs = (outputs: OutputList): HTMLElement => new OutputView(outputs, this.renderers).element;
        const manager = module.createManager({ kernel: this.kernel, renderOutputs });
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
      .then(async (manager) => {
        await this.styleRootOf(element);
        return manager.display(modelId, element);
      })
      .then(
        (shown) => {
          if (!shown) showFallback(element, fallback);
        },
        () => showFallback(element, fallback),
      )
      .finally(() => element.removeAttribute("aria-busy"));
    return element;
  }

  /** A style sheet that fails to load leaves the widget working, if plain. */
  private async styleRootOf(element: HTMLElement): Promise<void> {
    try {
      await applyWidgetStyles(element.getRootNode(), this.bundleUrl("widgets.css"));
    } catch (error) {
      console.warn("cellhub: could not load the widget styles", error);
    }
  }

  private bundleUrl(name: string): string {
    return new URL(name, this.bundleBase).href;
  }
}

function showFallback(element: HTMLElement, text: string): HTMLElement {
  element.replaceChildren(
    h("pre", { className: "text-output widget-missing", title: "This widget is not live: run the cell again." }, text),
  );
  return element;
}

/** widgets.js, once per page: every kernel's host creates its own manager from it. */
let widgetModule: Promise<WidgetModule> | null = null;

function loadWidgetModule(url: string): Promise<WidgetModule> {
  widgetModule ??= new Promise((resolve, reject) => {
    const script = h("script", { src: url, async: true });
    script.addEventListener(WIDGET_MODULE_EVENT, (event) => resolve((event as CustomEvent<WidgetModule>).detail));
    // Fires after the script ran, so only when it did not hand over its module.
    script.onload = () => reject(new Error(`${url} did not register itself`));
    script.onerror = () => reject(new Error(`could not load ${url}`));
    document.head.append(script);
  });
  return widgetModule;
}
