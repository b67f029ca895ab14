/** Random ids usable as Jupyter msg_ids and nbformat 4.5 cell ids (`^[a-zA-Z0-9-_]+$`).
 * crypto.getRandomValues works on plain-http deployments, unlike crypto.randomUUID. */
export function newId(bytes = 16): string {
  const values = crypto.getRandomValues(new Uint8Array(bytes));
  return Array.from(values, (b) => b.toString(16).padStart(2, "0")).join("");
}
