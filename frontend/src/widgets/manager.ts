/**
 * cellhub's widget manager: ipywidgets' own ManagerBase (model registry, state (de)serialization,
 * the `update`/`echo_update`/`request_state` protocol and its one-message-in-flight throttle)
 * over cellhub's kernel connection. It knows the built-in modules (base, controls, output);
 * third-party widget modules would need their code served, which cellhub does not do.
 *
 * No widget state a kernel sends runs script in the page: views that show a value as HTML are
 * cellhub's sanitizing ones (htmlViews.ts), HTML descriptions pass the page's sanitizer, TeX is
 * never handed to an embedding page's MathJax, and error views show no kernel text as HTML.
 */
import * as base from "@jupyter-widgets/base";
import { ManagerBase } from "@jupyter-widgets/base-manager";
import * as controls from "@jupyter-widgets/controls";
import { Widget } from "@lumino/widgets";
import type { KernelMessage } from "../kernel/messages";
import type { Buffer } from "../kernel/wireFormat";
import { labelControls } from "./accessibility";
import type { HostServices, WidgetManagerApi } from "./api";
import { sanitizeHtml } from "../render/sanitizer";
import { KernelComm } from "./comm";
import { HTMLMathView, HTMLView } from "./htmlViews";
import { OUTPUT_MODULE, OutputModel, OutputView } from "./output";

const MODULES: Record<string, Record<string, unknown>> = {
  "@jupyter-widgets/base": base,
  "@jupyter-widgets/controls": { ...controls, HTMLView, HTMLMathView },
  [OUTPUT_MODULE]: { OutputModel, OutputView },
};

/** A view may be asked for before its comm_open arrives (a reloaded page), so wait this long. */
const MODEL_WAIT_MS = 15_000;

export class CellhubWidgetManager extends ManagerBase implements WidgetManagerApi {
  private comms = new Map<string, KernelComm>();
  private modelWaiters = new Map<string, (() => void)[]>();
  private shown: { view: base.DOMWidgetView; host: HTMLElement }[] = [];
  /**
   * Read by DescriptionView.typeset before it tries `window.MathJax`: TeX in widget text stays
   * text, rather than going to whatever MathJax (and configuration) an embedding page has.
   */
  readonly _rendermime = { latexTypesetter: { typeset: (): void => undefined } };

  constructor(readonly services: HostServices) {
    super();
  }

  async handleMessage(message: KernelMessage): Promise<void> {
    const content = message.content;
    try {
      switch (message.header.msg_type) {
        case "comm_open":
          if (content.target_name !== this.comm_target_name) return;
          await this.handle_comm_open(this.newComm(content.comm_id, content.target_name), message as never);
          break;
        case "comm_msg":
          await this.comms.get(content.comm_id)?.deliver(message);
          break;
        case "comm_close": {
          const comm = this.comms.get(content.comm_id);
          this.comms.delete(content.comm_id);
          await comm?.deliverClose(message);
          break;
        }
      }
    } catch (error) {
      console.error("cellhub: widget message failed", error);
    }
  }

  register_model(model_id: string, modelPromise: Promise<base.WidgetModel>): void {
    super.register_model(model_id, modelPromise);
    for (const wake of this.modelWaiters.get(model_id) ?? []) wake();
    this.modelWaiters.delete(model_id);
  }

  async display(modelId: string, element: HTMLElement): Promise<boolean> {
    this.disposeDetachedViews();
    if (!(await this.modelRegistered(modelId))) return false;
    const model = await this.get_model(modelId);
    const view = (await this.create_view(model, {})) as base.DOMWidgetView;
    if (!element.isConnected) {
      view.remove();
      return true;
    }
    element.replaceChildren();
    Widget.attach(view.luminoWidget, element);
    this.shown.push({ view, host: element });
    return true;
  }

  async create_view<VT extends base.DOMWidgetView = base.DOMWidgetView>(
    model: base.DOMWidgetModel,
    options?: unknown,
  ): Promise<VT>;
  async create_view<VT extends base.WidgetView = base.WidgetView>(model: base.WidgetModel, options?: unknown): Promise<VT>;
  async create_view(model: base.WidgetModel, options = {}): Promise<base.WidgetView> {
    const view = await super.create_view(model, options);
    if (view instanceof base.ErrorWidgetView) keepErrorAsText(view);
    else if (view instanceof base.DOMWidgetView) labelControls(view);
    return view;
  }

  /**
   * ManagerBase sanitizes the text around the math it set aside, then puts the math back; the
   * whole description passes the sanitizer once more.
   */
  inline_sanitize(source: string): string {
    return sanitizeHtml(super.inline_sanitize(source));
  }

  async restoreFromKernel(): Promise<void> {
    await this._loadFromKernel();
  }

  reset(): void {
    for (const comm of this.comms.values()) comm.deliverClose({} as KernelMessage);
    this.comms.clear();
    for (const { host } of this.shown) {
      const note = document.createElement("pre");
      note.className = "text-output widget-missing";
      note.textContent = "This widget stopped with its kernel: run the cell again.";
      host.replaceChildren(note);
    }
    this.shown = [];
    void this.clear_state();
  }

  protected async loadClass(className: string, moduleName: string): Promise<typeof base.WidgetModel | typeof base.WidgetView> {
    const module = MODULES[moduleName];
    const found = module?.[className];
    if (!found) throw new Error(`cellhub cannot show ${moduleName}.${className}: only the built-in ipywidgets are available`);
    return found as typeof base.WidgetModel;
  }

  protected async _create_comm(
    target: string,
    modelId?: string,
    data?: Record<string, unknown>,
    metadata?: Record<string, unknown>,
    buffers?: Buffer[],
  ): Promise<base.IClassicComm> {
    const comm = this.newComm(modelId ?? base.uuid(), target);
    if (data || metadata) comm.open(data ?? {}, undefined, metadata, buffers);
    return comm;
  }

  protected async _get_comm_info(): Promise<Record<string, unknown>> {
    const reply = await this.services.kernel.request("comm_info_request", { target_name: this.comm_target_name });
    const comms = (reply.content.comms ?? {}) as Record<string, { target_name?: string }>;
    return Object.fromEntries(Object.entries(comms).filter(([, info]) => info.target_name === this.comm_target_name));
  }

  private newComm(commId: string, target: string): KernelComm {
    const comm = new KernelComm(this.services.kernel, commId, target, (closed) => {
      if (this.comms.get(closed.comm_id) === closed) this.comms.delete(closed.comm_id);
    });
    this.comms.set(commId, comm);
    return comm;
  }

  private modelRegistered(modelId: string): Promise<boolean> {
    if (this.has_model(modelId)) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(this.has_model(modelId)), MODEL_WAIT_MS);
      const waiters = this.modelWaiters.get(modelId) ?? [];
      waiters.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
      this.modelWaiters.set(modelId, waiters);
    });
  }

  /** Views whose output was cleared or re-run stop listening to their models. */
  private disposeDetachedViews(): void {
    this.shown = this.shown.filter(({ view, host }) => {
      if (host.isConnected) return true;
      view.luminoWidget.dispose();
      return false;
    });
  }
}

/**
 * ipywidgets' error view shows its message and stack, which name the kernel's module and class
 * names, as HTML when clicked. cellhub keeps its icon and puts the message in its tooltip, as text.
 */
function keepErrorAsText(view: base.ErrorWidgetView): void {
  view.el.onclick = null;
  view.el.ondblclick = null;
  view.el.title = view.generateErrorMessage().msg ?? "This widget could not be shown.";
}
