/**
 * What the page and the lazily loaded widget bundle (widgets.js) promise each other. The widget
 * bundle imports only types from the page's modules; the page hands it the live objects, so the
 * two bundles share one kernel connection and one output renderer.
 */
import type { KernelConnection } from "../kernel/connection";
import type { KernelMessage } from "../kernel/messages";
import type { OutputList } from "../worksheet/outputs";

export const WIDGET_VIEW_MIME = "application/vnd.jupyter.widget-view+json";

/**
 * The event widgets.js dispatches on its own script element as it runs, carrying its
 * WidgetModule: no global, since an embedding page's globals are the page's own.
 */
export const WIDGET_MODULE_EVENT = "cellhub:widgets";

export interface HostServices {
  kernel: KernelConnection;
  /** Renders an Output widget's outputs with the page's own output view (MIME renderers, streams). */
  renderOutputs(outputs: OutputList): HTMLElement;
}

export interface WidgetManagerApi {
  /** comm_open / comm_msg / comm_close from the kernel, in order; settles once applied. */
  handleMessage(message: KernelMessage): Promise<unknown>;
  /** Renders the view of model `modelId` into `element`; false when no such model turned up. */
  display(modelId: string, element: HTMLElement): Promise<boolean>;
  /** Re-creates models for widget comms the kernel already has (after a reload or reconnect). */
  restoreFromKernel(): Promise<void>;
  /** The kernel restarted: its widgets are gone. */
  reset(): void;
}

export interface WidgetModule {
  createManager(services: HostServices): WidgetManagerApi;
}
