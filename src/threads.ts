// Worker threads run this project's TypeScript like the main thread does: through tsx.
// `npm start` loads tsx with `--import tsx`, and a worker inherits that; under vitest, or with `tsx`
// as the command, the process's own arguments do not load it, so the worker gets `--import tsx`.
import { fileURLToPath } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';

/** execArgv for a worker thread running `file` (undefined: inherit the process's). */
export function workerExecArgv(file: string): string[] | undefined {
  const withTsx = process.execArgv.some((a) => /(^|[\\/])tsx([\\/]|$)|tsx\/dist/.test(a));
  return file.endsWith('.ts') && !withTsx ? [...process.execArgv, '--import', 'tsx'] : undefined;
}

/**
 * A worker thread running the module `file` (.ts or .js), with `options.workerData`. In a new
 * thread, tsx's ES-module hooks are not in place when Node loads the entry point ("Unknown file
 * extension .ts") and an `eval` entry gets no `--import` at all; its require hook is in place for a
 * file entry. So the entry is worker-entry.cjs, which requires the module (as piscina does for
 * the explanation workers).
 */
export function startWorker(file: string, options: Omit<WorkerOptions, 'eval' | 'execArgv'> = {}): Worker {
  const entry = fileURLToPath(new URL('./worker-entry.cjs', import.meta.url));
  const workerData = { ...(options.workerData as object), __entry: file };
  return new Worker(entry, { ...options, workerData, execArgv: workerExecArgv(file) });
}
