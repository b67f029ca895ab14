/**
 * Command mode, as in Jupyter: when a cell itself (not its editor) has focus, single keys act
 * on cells. Escape in an editor enters command mode; Enter goes back to editing.
 */
import type { RunMode } from "../view/editor";

export interface Commands {
  edit(): void;
  selectNeighbour(direction: -1 | 1): void;
  insert(offset: 0 | 1): void;
  remove(): void;
  undoDelete(): void;
  setType(type: "code" | "markdown"): void;
  copy(): void;
  cut(): void;
  paste(): void;
  move(delta: -1 | 1): void;
  run(mode: RunMode): void;
  interrupt(): void;
  restart(): void;
}

/** [keys, description] for the help list on the page. */
export const COMMAND_MODE_HELP: [string, string][] = [
  ["Shift+Enter", "run, then go to the next cell (a new one at the end)"],
  ["Ctrl+Enter", "run in place"],
  ["Alt+Enter", "run, then insert a cell below"],
  ["Tab / Shift+Tab (editing)", "complete / show documentation"],
  ["Esc / Enter", "leave the editor (command mode) / edit the cell"],
  ["↑ ↓ or K J", "previous / next cell"],
  ["A / B", "insert a cell above / below"],
  ["D D / Z", "delete the cell / undo the deletion"],
  ["M / Y", "make it markdown / code"],
  ["C / X / V", "copy / cut / paste below"],
  ["Ctrl+Shift+↑ / ↓", "move the cell up / down"],
  ["I I / 0 0", "interrupt / restart the kernel"],
];

const DOUBLE_KEY_MS = 800;

export function installCommandMode(root: HTMLElement, commands: Commands): void {
  let pending: string | null = null;
  let pendingAt = 0;
  const twice = (key: string): boolean => {
    const now = performance.now();
    const hit = pending === key && now - pendingAt < DOUBLE_KEY_MS;
    pending = hit ? null : key;
    pendingAt = now;
    return hit;
  };

  root.addEventListener("keydown", (event) => {
    const target = event.target as HTMLElement;
    if (!target.classList?.contains("cell")) return;
    const { key, shiftKey, ctrlKey, metaKey, altKey } = event;
    const mod = ctrlKey || metaKey;
    let handled = true;
    if (key === "Enter" && shiftKey) commands.run("next");
    else if (key === "Enter" && mod) commands.run("stay");
    else if (key === "Enter" && altKey) commands.run("insert");
    else if (key === "Enter") commands.edit();
    else if (mod && shiftKey && key === "ArrowUp") commands.move(-1);
    else if (mod && shiftKey && key === "ArrowDown") commands.move(1);
    else if (mod || altKey) handled = false;
    else if (key === "ArrowUp" || key === "k") commands.selectNeighbour(-1);
    else if (key === "ArrowDown" || key === "j") commands.selectNeighbour(1);
    else if (key === "a") commands.insert(0);
    else if (key === "b") commands.insert(1);
    else if (key === "d") {
      if (twice("d")) commands.remove();
    } else if (key === "Delete") commands.remove();
    else if (key === "z") commands.undoDelete();
    else if (key === "m") commands.setType("markdown");
    else if (key === "y") commands.setType("code");
    else if (key === "c") commands.copy();
    else if (key === "x") commands.cut();
    else if (key === "v") commands.paste();
    else if (key === "i") {
      if (twice("i")) commands.interrupt();
    } else if (key === "0") {
      if (twice("0")) commands.restart();
    } else handled = false;
    if (handled) event.preventDefault();
  });
}
