// One TreeSHAP timing in a fresh worker thread (a piscina task; bench/explain-pool.ts, row 6a): the explainer runs
// in an isolate of its own, as in the server's explanation pool, so the bench process's other work
// (its heap, other code JIT-compiled before) does not weigh on it. CPU = this thread's own CPU time
// (/proc/thread-self/schedstat, ns), not the process's.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

interface Job {
  /** Absolute paths of the treeshap and tree-ensemble modules to time (this checkout's, or an old commit's). */
  treeshap: string;
  ensemble: string;
  onnxBytes: Uint8Array;
  /** n rows × nFeatures, row-major. */
  rows: Float64Array;
  n: number;
  /** 'batch' = explainBatch over all rows; 'rows' = explain one row at a time. */
  mode: 'batch' | 'rows';
}

// piscina loads this task through tsx's require hook; the modules to time load the same way.
const load = createRequire(import.meta.url);
const threadCpuUs = (): number => {
  try {
    return Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]) / 1000;
  } catch {
    const c = process.cpuUsage(); // not Linux: the process's CPU time instead
    return c.user + c.system;
  }
};
export default async function time(job: Job): Promise<{ cpuUs: number; wallUs: number }> {
  const { TreeShap } = load(job.treeshap) as { TreeShap: new (e: unknown) => { explain(x: ArrayLike<number>): unknown; explainBatch?(x: ArrayLike<number>, n: number): unknown } };
  const { parseTreeEnsemble } = load(job.ensemble) as { parseTreeEnsemble(b: Uint8Array): { nFeatures: number } };
  const ensemble = parseTreeEnsemble(job.onnxBytes);
  const shap = new TreeShap(ensemble);
  const nF = ensemble.nFeatures;
  const one = new Float64Array(nF);
  const run =
    job.mode === 'batch'
      ? () => shap.explainBatch!(job.rows, job.n)
      : () => {
          for (let i = 0; i < job.n; i++) {
            one.set(job.rows.subarray(i * nF, (i + 1) * nF));
            shap.explain(one);
          }
        };
  const cpu: number[] = [];
  const wall: number[] = [];
  for (let i = 0; i < 7; i++) {
    const c0 = threadCpuUs();
    const t0 = performance.now();
    run();
    if (i >= 2) {
      cpu.push((threadCpuUs() - c0) / job.n);
      wall.push(((performance.now() - t0) * 1000) / job.n);
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  return { cpuUs: median(cpu), wallUs: median(wall) };
}
