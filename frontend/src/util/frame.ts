/** Coalesces DOM work into one pass per animation frame, so a kernel streaming thousands of
 * messages a second costs at most one render per output area per frame. */
const pending = new Set<() => void>();
let scheduled = false;

export function onNextFrame(task: () => void): void {
  pending.add(task);
  if (scheduled) return;
  scheduled = true;
  const flush = (): void => {
    scheduled = false;
    const tasks = [...pending];
    pending.clear();
    for (const run of tasks) run();
  };
  // Hidden tabs get no animation frames; a timeout keeps the model and the DOM in step there.
  if (document.hidden) setTimeout(flush, 100);
  else requestAnimationFrame(flush);
}
