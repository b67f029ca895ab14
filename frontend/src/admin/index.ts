/**
 * The admin view (/admin, hub/admin.py): users, kernels, workers and this hub's recent
 * errors, refreshed every few seconds and after each action.
 */
import { h } from "../util/dom";
import { admin, AdminError } from "./api";
import { errorsTable, kernelsTable, newUserForm, usersTable, workersTable, type Run } from "./sections";
import "./admin.css";

const REFRESH_MS = 5000;

function section(id: string, title: string, ...content: Node[]): HTMLElement {
  return h("section", { id, className: "admin-section", "aria-labelledby": `${id}-title` }, h("h2", { id: `${id}-title` }, title), ...content);
}

function start(root: HTMLElement): void {
  const status = h("p", { className: "admin-status", role: "status", "aria-live": "polite" });
  const slots = { users: h("div"), kernels: h("div"), workers: h("div"), errors: h("div") };
  const refresh = async (): Promise<void> => {
    const [users, kernels, workers, errors] = await Promise.all([admin.users(), admin.kernels(), admin.workers(), admin.errors()]);
    slots.users.replaceChildren(usersTable(users, run));
    slots.kernels.replaceChildren(kernelsTable(kernels, run));
    slots.workers.replaceChildren(workersTable(workers, run));
    slots.errors.replaceChildren(errorsTable(errors));
  };
  const run: Run = (act) => {
    status.textContent = "";
    act()
      .then(refresh)
      .catch((error: unknown) => {
        status.textContent = error instanceof AdminError ? error.message : String(error);
      });
  };
  root.replaceChildren(
    h("header", { className: "admin-header" }, h("h1", {}, "cellhub admin"), h("a", { href: "/" }, "Worksheet")),
    status,
    section("admin-users", "Users", newUserForm(run), slots.users),
    section("admin-kernels", "Kernels", slots.kernels),
    section("admin-workers", "Workers", slots.workers),
    section("admin-errors", "Recent errors (this hub)", slots.errors),
  );
  run(async () => undefined);
  window.setInterval(() => run(async () => undefined), REFRESH_MS);
}

const root = document.getElementById("admin");
if (root) start(root);
