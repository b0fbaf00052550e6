// ONNX Runtime on a thread of its own (src/inference/thread.ts): onnxruntime-node's session.run
// blocks the thread that calls it, so the service runs its batches on the inference thread. The
// thread's probabilities are those of the calling thread's session, number for number, for every
// shipped model; the event loop keeps turning while a batch runs there (and cannot when it runs
// in-process); a thread that dies fails the batch it was running, and the next batch runs on its
// replacement. Real models, real threads.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { turnsDuring } from './helpers/event-loop.js';
import type { ModelRow } from '../src/inference/tensors.js';
import type { Scoring } from '../src/scoring/scoring.js';
import { createScoring } from '../src/scoring/setup.js';
import { testConfig } from './helpers/server.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const silent = pino({ level: 'silent' });

interface GoldenCustomer {
  features: (number | null)[];
  sequence?: number[][];
  mask_length?: number;
}

/** The shipped version's golden customers as the service's rows (sequence models: their order tokens too). */
function goldenRows(name: string): ModelRow[] {
  const golden = JSON.parse(readFileSync(join(ROOT, 'models', name, '1', 'golden.json'), 'utf8')) as { customers: GoldenCustomer[] };
  return golden.customers.map((c) => {
    const row: ModelRow = { features: Float64Array.from(c.features, (v) => (v === null ? Number.NaN : v)) };
    if (c.sequence) {
      row.sequence = Float32Array.from(c.sequence.flat());
      row.sequenceLength = c.mask_length ?? c.sequence.length;
    }
    return row;
  });
}

/** Many XGBoost rows in ONE session.run (the batch limit raised to fit them): tens of milliseconds of ONNX Runtime or more. */
const BIG = 100_000;
const bigRows = (): ModelRow[] => {
  const golden = goldenRows('xgboost-segment');
  return Array.from({ length: BIG }, (_, i) => golden[i % golden.length]);
};

describe('inference on a thread of its own', { timeout: 120_000 }, () => {
  let threaded: Scoring;
  let inProcess: Scoring;
  beforeAll(async () => {
    [threaded, inProcess] = await Promise.all([
      createScoring(testConfig({ INFERENCE_THREAD: 'on', INFERENCE_MAX_BATCH_SIZE: String(BIG) }), silent),
      createScoring(testConfig({ INFERENCE_THREAD: 'off', INFERENCE_MAX_BATCH_SIZE: String(BIG) }), silent),
    ]);
  }, 120_000);
  afterAll(async () => {
    await threaded?.close();
    await inProcess?.close();
  });

  it('is on by default and off with INFERENCE_THREAD=off', () => {
    expect(threaded.inference.thread).toBeDefined();
    expect(inProcess.inference.thread).toBeUndefined();
  });

  it.each(['xgboost-segment', 'logistic-segment', 'transformer-segment'])('%s: the thread gives exactly what the calling thread gives', async (name) => {
    const rows = goldenRows(name);
    const runsBefore = threaded.inference.runs(name);
    const [onThread, here] = await Promise.all([threaded.inference.predict(name, rows), inProcess.inference.predict(name, rows)]);
    expect(threaded.inference.runs(name)).toBe(runsBefore + 1); // one batch, through the thread
    expect(threaded.inference.thread!.threads.length).toBe(1);
    expect(onThread).toHaveLength(rows.length);
    expect(onThread.map((p) => [...p])).toEqual(here.map((p) => [...p]));
    for (const p of onThread) expect(p.reduce((s, x) => s + x, 0)).toBeCloseTo(1, 5);
  });

  it('keeps the event loop turning while a batch runs; in-process it cannot', async () => {
    const rows = bigRows();
    const blocked = await turnsDuring(inProcess.inference.predict('xgboost-segment', rows));
    const free = await turnsDuring(threaded.inference.predict('xgboost-segment', rows));
    // In-process the whole run is one synchronous call (its promise only defers it by a turn).
    expect(blocked).toBeLessThan(5);
    expect(free).toBeGreaterThan(10 * Math.max(blocked, 5));
  });

  // A batch the thread cannot run fails alone; a thread that dies is replaced. The thread is killed
  // between batches, not inside one: terminating it while ONNX Runtime's native run is under way can
  // abort the whole test process (onnxruntime-node's binding throws a C++ Napi::Error into a
  // terminating environment; seen once, with two test suites at once). In the service only a crash,
  // which ends the process anyway, stops the thread mid-run; shutdown waits for running batches.
  it('fails a batch the thread cannot run, alone; a thread that dies is replaced, and the next batch runs on it', async () => {
    const thread = threaded.inference.thread!;
    const model = threaded.model('xgboost-segment');
    const rows = goldenRows('xgboost-segment');
    const want = (await inProcess.inference.predict('xgboost-segment', rows)).map((p) => [...p]);
    // Five values where the model takes 27 per row: ONNX Runtime refuses the shape inside the thread.
    const bad = thread.run(model, { [model.session.inputNames[0]]: { data: new Float32Array(5), dims: [1, 5] } });
    await expect(bad).rejects.toThrow(/dimension|shape|Got invalid/i);
    expect((await threaded.inference.predict('xgboost-segment', rows)).map((p) => [...p])).toEqual(want);
    const dead = thread.threads[0];
    while (thread.inFlight > 0) await nextTurn();
    await dead.terminate();
    const after = await threaded.inference.predict('xgboost-segment', rows);
    expect(after.map((p) => [...p])).toEqual(want);
    expect(thread.threads[0]).not.toBe(dead);
  });
});
