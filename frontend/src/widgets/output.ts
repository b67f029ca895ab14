/**
 * ipywidgets' Output widget (module `@jupyter-widgets/output`), shown with cellhub's own output
 * view. While the kernel runs code inside `with out:`, it sets `msg_id` to the request being
 * run; every output of that request is captured here instead of going to the cell, as Jupyter
 * does it. Captured outputs are synced back to the kernel's `outputs` (coalesced per frame), so
 * a reloaded page gets them with the widget's state.
 */
import { DOMWidgetModel, DOMWidgetView, type WidgetModel } from "@jupyter-widgets/base";
import type { KernelMessage } from "../kernel/messages";
import { type Output, OutputList } from "../worksheet/outputs";
import type { HostServices } from "./api";

export const OUTPUT_MODULE = "@jupyter-widgets/output";
const OUTPUT_MODULE_VERSION = "1.0.0";

interface WithServices {
  services: HostServices;
}

export class OutputModel extends DOMWidgetModel {
  // Backbone calls initialize() from its constructor, before class fields would be assigned.
  declare list: OutputList;
  declare private unhook: (() => void) | null;
  declare private syncQueued: boolean;

  defaults(): Backbone.ObjectHash {
    return {
      ...super.defaults(),
      _model_name: "OutputModel",
      _view_name: "OutputView",
      _model_module: OUTPUT_MODULE,
      _view_module: OUTPUT_MODULE,
      _model_module_version: OUTPUT_MODULE_VERSION,
      _view_module_version: OUTPUT_MODULE_VERSION,
      msg_id: "",
      outputs: [],
    };
  }

  initialize(attributes: Backbone.ObjectHash, options: Parameters<WidgetModel["initialize"]>[1]): void {
    super.initialize(attributes, options);
    this.list = new OutputList();
    this.unhook = null;
    this.syncQueued = false;
    this.on("change:msg_id", this.captureRequest, this);
    this.on("change:outputs", (_model: unknown, _value: unknown, changeOptions: { fromCapture?: boolean }) => {
      if (!changeOptions?.fromCapture) this.list.replaceAll(this.get("outputs") as Output[]);
    });
    this.list.replaceAll((this.get("outputs") ?? []) as Output[]);
    this.captureRequest();
  }

  private get services(): HostServices {
    return (this.widget_manager as unknown as WithServices).services;
  }

  private captureRequest(): void {
    this.unhook?.();
    this.unhook = null;
    const msgId = this.get("msg_id") as string;
    if (msgId) this.unhook = this.services.kernel.hookIOPub(msgId, (message) => this.capture(message));
  }

  private capture(message: KernelMessage): boolean {
    const content = message.content;
    switch (message.header.msg_type) {
      case "stream":
        this.list.add({ output_type: "stream", name: content.name === "stderr" ? "stderr" : "stdout", text: content.text ?? "" });
        break;
      case "display_data":
      case "execute_result":
        this.list.add({
          output_type: message.header.msg_type,
          data: content.data ?? {},
          metadata: content.metadata ?? {},
          displayId: content.transient?.display_id,
          ...(message.header.msg_type === "execute_result" ? { execution_count: content.execution_count ?? null } : {}),
        });
        break;
      case "error":
        this.list.add({ output_type: "error", ename: content.ename, evalue: content.evalue, traceback: content.traceback ?? [] });
        break;
      case "clear_output":
        this.list.clear(!!content.wait);
        break;
      case "update_display_data":
        this.list.updateDisplay(content.transient?.display_id ?? "", content.data ?? {}, content.metadata ?? {});
        return true;
    }
    this.queueSync();
    return false;
  }

  private queueSync(): void {
    if (this.syncQueued) return;
    this.syncQueued = true;
    requestAnimationFrame(() => {
      this.syncQueued = false;
      const outputs = this.list.all.map(({ lines: _lines, displayId: _id, ...output }: Output & { lines?: number; displayId?: string }) => output);
      this.set("outputs", outputs, { fromCapture: true });
      this.save_changes();
    });
  }

  close(comm_closed?: boolean): Promise<void> {
    this.unhook?.();
    this.unhook = null;
    return super.close(comm_closed);
  }
}

export class OutputView extends DOMWidgetView {
  render(): void {
    this.el.classList.add("jupyter-widgets-output-area", "widget-output");
    const services = (this.model.widget_manager as unknown as WithServices).services;
    this.el.append(services.renderOutputs((this.model as OutputModel).list));
  }
}
