/** The cells of a page that share one kernel: started on the first run, then reused. */
import { KernelConnection } from "../kernel/connection";
import { KernelsApi } from "../kernel/rest";
import type { Cell } from "../worksheet/cell";
import { Runner } from "../worksheet/runner";
import { Worksheet } from "../worksheet/worksheet";

export class KernelGroup {
  readonly kernel: KernelConnection;
  private readonly worksheet = new Worksheet();
  private readonly runner: Runner;
  private started = false;

  /** `rememberKey` lets a reloaded page re-attach to its kernel (sessionStorage, this tab only). */
  constructor(hubUrl: string, token: string, kernelName: string, rememberKey: string) {
    this.kernel = new KernelConnection(new KernelsApi(hubUrl, token), kernelName, rememberKey);
    this.runner = new Runner(this.kernel, this.worksheet);
  }

  add(cell: Cell): void {
    this.worksheet.replaceAll([...this.worksheet.cells, cell], "embedded");
  }

  run(cell: Cell): void {
    if (!this.started) {
      this.started = true;
      void this.kernel.start();
    }
    this.runner.run(cell);
  }

  answerInput(cell: Cell, value: string): void {
    this.runner.answerInput(cell, value);
  }
}
