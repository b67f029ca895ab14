/** The admin view's four tables: users, kernels, workers, recent errors. */
import { h } from "../util/dom";
import { admin, type Account, type AdminKernel, type ErrorRecord, type Worker } from "./api";
import { age, bytes, count } from "./format";
import { action, table, type Cell } from "./table";

/** Runs an action, then refreshes the view; says what went wrong if it fails. */
export type Run = (act: () => Promise<unknown>) => void;

export function usersTable(users: Account[], run: Run): HTMLTableElement {
  const status = (user: Account): Cell => h("span", { className: user.disabled ? "admin-bad" : "" }, user.disabled ? "disabled" : "active");
  const actions = (user: Account): Cell =>
    h(
      "span",
      {},
      user.disabled
        ? action("Enable", () => admin.userAction(user.name, "enable"), run)
        : action("Disable", () => admin.userAction(user.name, "disable"), run),
      action("Reset", () => admin.userAction(user.name, "reset"), run),
    );
  return table(
    "Users",
    [
      { title: "Name", cell: (user) => user.name },
      { title: "Role", cell: (user) => (user.admin ? "admin" : "user") },
      { title: "Group", cell: (user) => user.group || "–" },
      { title: "Last login", cell: (user) => (user.last_activity ? `${age(user.last_activity)} ago` : "never") },
      { title: "Status", cell: status },
      { title: "", cell: actions },
    ],
    users,
    (user) => user.name,
  );
}

export function newUserForm(run: Run): HTMLFormElement {
  const name = h("input", { name: "name", required: true, autocomplete: "off", spellcheck: "false", "aria-label": "New account's name" });
  const password = h("input", { name: "password", type: "password", autocomplete: "new-password", "aria-label": "Password (optional)", placeholder: "password (optional)" });
  const role = h("select", { name: "role", "aria-label": "Role" }, h("option", { value: "user" }, "user"), h("option", { value: "admin" }, "admin"));
  const form = h("form", { className: "admin-form" }, name, password, role, h("button", { type: "submit" }, "Create"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    run(async () => {
      await admin.createUser(name.value.trim(), password.value, role.value === "admin");
      form.reset();
    });
  });
  return form;
}

export function kernelsTable(kernels: AdminKernel[], run: Run): HTMLTableElement {
  return table(
    "Kernels",
    [
      { title: "Kernel", cell: (k) => h("code", { title: k.id }, k.id.slice(0, 8)) },
      { title: "Kind", cell: (k) => k.name },
      { title: "Owner", cell: (k) => k.owner },
      { title: "Worker", cell: (k) => k.worker },
      { title: "Age", cell: (k) => age(k.created) },
      { title: "State", cell: (k) => k.execution_state },
      { title: "Clients", cell: (k) => String(k.connections) },
      { title: "Memory", cell: (k) => bytes(k.memory) },
      { title: "", cell: (k) => action("End", () => admin.endKernel(k.id), run) },
    ],
    kernels,
    (k) => k.id,
  );
}

export function workersTable(workers: Worker[], run: Run): HTMLTableElement {
  const toggle = (w: Worker): Cell =>
    w.drained_by_admin
      ? action("Activate", () => admin.workerAction(w.name, "activate"), run)
      : action("Drain", () => admin.workerAction(w.name, "drain"), run);
  return table(
    "Workers",
    [
      { title: "Name", cell: (w) => w.name },
      { title: "Address", cell: (w) => w.address },
      { title: "State", cell: (w) => w.state },
      { title: "Connected", cell: (w) => (w.connected ? "yes" : "no") },
      { title: "Sessions", cell: (w) => `${count(w.sessions)} / ${count(w.capacity)}` },
      { title: "Memory free", cell: (w) => bytes(w.memory) },
      { title: "", cell: toggle },
    ],
    workers,
    (w) => w.address,
  );
}

export function errorsTable(errors: ErrorRecord[]): HTMLTableElement {
  return table(
    "Recent errors",
    [
      { title: "When", cell: (e) => `${age(e.time)} ago` },
      { title: "Level", cell: (e) => e.level },
      { title: "Source", cell: (e) => e.logger },
      { title: "Message", cell: (e) => h("span", { className: "admin-message" }, e.message) },
    ],
    errors,
    (e) => `${e.time} ${e.message}`,
  );
}
