/** Entry of widgets.js, the lazily loaded widget bundle: hands itself to the page (host.ts). */
import "./widgets.css";
import { type WidgetModule, WIDGET_MODULE_EVENT } from "./api";
import { CellhubWidgetManager } from "./manager";

const module: WidgetModule = { createManager: (services) => new CellhubWidgetManager(services) };
document.currentScript?.dispatchEvent(new CustomEvent<WidgetModule>(WIDGET_MODULE_EVENT, { detail: module }));
