import { describe, expect, it } from 'vitest';
import { MicroBatcher, QueueFullError, type BatchStats } from '../src/inference/batcher.js';

const options = { maxBatchSize: 64, maxQueueDelayMs: 5, maxQueueRows: 10_000, maxConcurrentBatches: 1 };

/**
 * An execution that doubles its rows and finishes only when the test releases it, so the tests
 * decide what is in flight by events, not by timers (they must hold on a busy machine).
 */
function gatedDoubler() {
  const calls: number[][] = [];
  const gates: (() => void)[] = [];
  let started: (() => void) | undefined;
  const execute = async (rows: number[]) => {
    calls.push(rows);
    started?.();
    await new Promise<void>((r) => gates.push(r));
    if (rows.includes(-1)) throw new Error('poison row');
    return rows.map((x) => x * 2);
  };
  return {
    calls,
    execute,
    /** Resolves when the next execution has started. */
    nextStart: () => new Promise<void>((r) => (started = r)),
    /** Lets every execution started so far finish. */
    releaseAll: () => gates.splice(0).forEach((g) => g()),
  };
}

/** Releases executions as they start, until stopped (for tests that only count batches). */
function autoRelease(d: ReturnType<typeof gatedDoubler>) {
  let on = true;
  void (async () => {
    while (on) {
      d.releaseAll();
      await new Promise((r) => setImmediate(r));
    }
  })();
  return () => (on = false);
}

describe('MicroBatcher', () => {
  it('merges 64 concurrent single-row requests into one execution, each answer in place', async () => {
    const d = gatedDoubler();
    const stop = autoRelease(d);
    const stats: BatchStats[] = [];
    // The delay is far longer than any test: the batch leaves because it is full, never by a timer.
    const batcher = new MicroBatcher(d.execute, { ...options, maxQueueDelayMs: 600_000 }, (s) => stats.push(s));
    const results = await Promise.all(Array.from({ length: 64 }, (_, i) => batcher.submit([i])));
    stop();
    expect(results).toEqual(Array.from({ length: 64 }, (_, i) => [i * 2]));
    expect(d.calls).toHaveLength(1);
    expect(stats).toEqual([expect.objectContaining({ rows: 64, requests: 64 })]);
  });

  it('with no queue delay, requests that arrive during an execution leave together as the next batch', async () => {
    const d = gatedDoubler();
    const batcher = new MicroBatcher(d.execute, { ...options, maxQueueDelayMs: 0 });
    const firstStarted = d.nextStart();
    const first = batcher.submit([100]);
    await firstStarted;
    const queued = Array.from({ length: 20 }, (_, i) => batcher.submit([i]));
    const secondStarted = d.nextStart();
    d.releaseAll();
    await secondStarted;
    d.releaseAll();
    expect(await first).toEqual([200]);
    expect(await Promise.all(queued)).toEqual(Array.from({ length: 20 }, (_, i) => [i * 2]));
    expect(d.calls.map((c) => c.length)).toEqual([1, 20]);
  });

  it('flushes at maxBatchSize without waiting for the delay', async () => {
    const d = gatedDoubler();
    const stop = autoRelease(d);
    // Were the delay waited for, the test would time out long before it ends.
    const batcher = new MicroBatcher(d.execute, { ...options, maxQueueDelayMs: 600_000 });
    const out = await Promise.all([batcher.submit(Array.from({ length: 40 }, (_, i) => i)), batcher.submit(Array.from({ length: 24 }, (_, i) => i))]);
    stop();
    expect(d.calls).toHaveLength(1);
    expect(out[1]).toEqual(Array.from({ length: 24 }, (_, i) => i * 2));
  });

  it('runs a request larger than maxBatchSize as one unsplit execution', async () => {
    const d = gatedDoubler();
    const stop = autoRelease(d);
    const batcher = new MicroBatcher(d.execute, options);
    const rows = Array.from({ length: 500 }, (_, i) => i);
    expect(await batcher.submit(rows)).toEqual(rows.map((x) => x * 2));
    stop();
    expect(d.calls.map((c) => c.length)).toEqual([500]);
  });

  it('refuses requests when the queue is full and serves those already queued', async () => {
    const d = gatedDoubler();
    const batcher = new MicroBatcher(d.execute, { ...options, maxBatchSize: 4, maxQueueRows: 8 });
    const started = d.nextStart();
    const accepted = [batcher.submit([1, 2, 3, 4])]; // full: starts executing at once
    await started;
    accepted.push(batcher.submit([5, 6, 7, 8]), batcher.submit([9, 10, 11, 12])); // queued: 8 rows
    await expect(batcher.submit([13])).rejects.toBeInstanceOf(QueueFullError);
    const stop = autoRelease(d);
    expect((await Promise.all(accepted)).flat()).toEqual([2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24]);
    stop();
  });

  it('fails only the requests of a failed batch; later batches succeed', async () => {
    const d = gatedDoubler();
    const batcher = new MicroBatcher(d.execute, { ...options, maxBatchSize: 2 });
    const started = d.nextStart();
    const first = batcher.submit([1]);
    await started; // its batch is executing alone now
    const poisoned = [batcher.submit([-1]), batcher.submit([3])]; // full: the next batch
    const stop = autoRelease(d);
    const results = await Promise.allSettled([first, ...poisoned]);
    expect(results[0]).toEqual({ status: 'fulfilled', value: [2] });
    expect(results[1].status).toBe('rejected');
    expect(results[2].status).toBe('rejected');
    expect(await batcher.submit([4])).toEqual([8]);
    stop();
    expect(d.calls).toEqual([[1], [-1, 3], [4]]);
  });
});
