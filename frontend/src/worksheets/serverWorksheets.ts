/**
 * The worksheet page's server worksheets, put together: the store (serverStore.ts), its save
 * status and conflict banner, the list of worksheets, the files and the history panels, and what a
 * reopened worksheet says when its kernel is new. main.ts builds the page around them.
 */
import type { KernelConnection } from "../kernel/connection";
import type { Notices } from "../view/notices";
import type { WorksheetView } from "../view/worksheetView";
import type { Worksheet } from "../worksheet/worksheet";
import { h } from "../util/dom";
import { ContentsApi } from "./contentsApi";
import { markEarlierOutputs, NEW_KERNEL_NOTICE } from "./earlierOutputs";
import { FilesPanel } from "./filesPanel";
import { HistoryPanel } from "./historyPanel";
import { SaveStatus } from "./saveStatus";
import { ServerStore } from "./serverStore";
import { WorksheetList } from "./worksheetList";

export class ServerWorksheets {
  readonly store: ServerStore;
  list!: WorksheetList;
  history!: HistoryPanel;
  files!: FilesPanel;
  status!: SaveStatus;
  /** What to tell the person once the page is up ("" for nothing). */
  opening = "";

  constructor(baseUrl: string, worksheet: Worksheet, scope: string, kernelId: () => string | null) {
    this.store = new ServerStore(new ContentsApi(baseUrl), worksheet, scope, kernelId);
  }

  /** Load the worksheet the page opens; on failure, a blank one and the reason. */
  async open(): Promise<void> {
    try {
      this.opening = await this.store.openInitial();
    } catch (error) {
      this.opening = `The worksheet could not be loaded from the server: ${(error as Error).message}`;
    }
  }

  /** The panels, the controls that go beside the page's other file controls, and the
   * toolbar groups that go after them. */
  build(notices: Notices, retitle: (title: string) => void): { controls: HTMLElement[]; groups: HTMLElement[]; elements: HTMLElement[] } {
    const say = (text: string): void => notices.show(text);
    this.status = new SaveStatus(this.store);
    this.list = new WorksheetList(this.store, say, retitle);
    this.history = new HistoryPanel(this.store, say);
    this.files = new FilesPanel(this.store.api, say);
    // A group of its own: on a phone it shares a row with Share instead of wrapping the
    // worksheet group onto a second one.
    const files = h("div", { role: "toolbar", "aria-label": "Your files", className: "group" }, this.files.toggle);
    return {
      controls: [this.list.toggle, this.history.toggle, this.status.status],
      groups: [files],
      elements: [this.status.banner, this.list.element, this.files.element, this.history.element],
    };
  }

  /** Once the kernel has started: say so if it is not the one the worksheet was saved with. */
  kernelStarted(kernel: KernelConnection, worksheet: Worksheet, view: WorksheetView, notices: Notices): void {
    const previous = this.store.previousKernel;
    if (previous && kernel.kernelId && kernel.kernelId !== previous && markEarlierOutputs(worksheet, view) > 0) {
      notices.show(NEW_KERNEL_NOTICE, undefined, 15_000);
      notices.announce(NEW_KERNEL_NOTICE);
    }
    kernel.connected.connect(() => this.store.kernelMayHaveChanged());
    this.store.kernelMayHaveChanged();
  }
}
