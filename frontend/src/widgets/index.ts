/** Entry of widgets.js, the lazily loaded widget bundle: registers itself for the page (host.ts). */
import "./widgets.css";
import { type WidgetModule, WIDGET_MODULE_GLOBAL } from "./api";
import { CellhubWidgetManager } from "./manager";

const module: WidgetModule = { createManager: (services) => new CellhubWidgetManager(services) };
(window as unknown as Record<string, WidgetModule>)[WIDGET_MODULE_GLOBAL] = module;
