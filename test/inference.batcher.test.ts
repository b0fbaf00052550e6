import { describe, expect, it } from 'vitest';
import { MicroBatcher, QueueFullError, type BatchStats } from '../src/inference/batcher.js';

const options = { maxBatchSize: 64, maxQueueDelayMs: 5, maxQueueRows: 10_000, maxConcurrentBatches: 1 };

function doubler(delayMs = 2) {
  const calls: number[][] = [];
  const execute = async (rows: number[]) => {
    calls.push(rows);
    await new Promise((r) => setTimeout(r, delayMs));
    if (rows.includes(-1)) throw new Error('poison row');
    return rows.map((x) => x * 2);
  };
  return { calls, execute };
}

describe('MicroBatcher', () => {
  it('merges 64 concurrent single-row requests into a few executions, each answer in place', async () => {
    const { calls, execute } = doubler();
    const stats: BatchStats[] = [];
    const batcher = new MicroBatcher(execute, options, (s) => stats.push(s));
    const results = await Promise.all(Array.from({ length: 64 }, (_, i) => batcher.submit([i])));
    expect(results).toEqual(Array.from({ length: 64 }, (_, i) => [i * 2]));
    expect(calls.length).toBeLessThanOrEqual(4);
    expect(stats.reduce((s, b) => s + b.requests, 0)).toBe(64);
  });

  it('flushes at maxBatchSize without waiting for the delay', async () => {
    const { calls, execute } = doubler();
    const batcher = new MicroBatcher(execute, { ...options, maxQueueDelayMs: 60_000 });
    const started = performance.now();
    const out = await Promise.all([batcher.submit(Array.from({ length: 40 }, (_, i) => i)), batcher.submit(Array.from({ length: 24 }, (_, i) => i))]);
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(calls).toHaveLength(1);
    expect(out[1]).toEqual(Array.from({ length: 24 }, (_, i) => i * 2));
  });

  it('runs a request larger than maxBatchSize as one unsplit execution', async () => {
    const { calls, execute } = doubler();
    const batcher = new MicroBatcher(execute, options);
    const rows = Array.from({ length: 500 }, (_, i) => i);
    expect(await batcher.submit(rows)).toEqual(rows.map((x) => x * 2));
    expect(calls.map((c) => c.length)).toEqual([500]);
  });

  it('refuses requests when the queue is full and serves those already queued', async () => {
    const { execute } = doubler(20);
    const batcher = new MicroBatcher(execute, { ...options, maxBatchSize: 4, maxQueueRows: 8 });
    const accepted = [batcher.submit([1, 2, 3, 4])]; // starts executing at once
    accepted.push(batcher.submit([5, 6, 7, 8]), batcher.submit([9, 10, 11, 12])); // queued: 8 rows
    await expect(batcher.submit([13])).rejects.toBeInstanceOf(QueueFullError);
    expect((await Promise.all(accepted)).flat()).toEqual([2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24]);
  });

  it('fails only the requests of a failed batch; later batches succeed', async () => {
    const { execute } = doubler(10);
    const batcher = new MicroBatcher(execute, { ...options, maxBatchSize: 2 });
    const first = batcher.submit([1]);
    await new Promise((r) => setTimeout(r, 8)); // its batch is executing alone now
    const poisoned = [batcher.submit([-1]), batcher.submit([3])];
    const results = await Promise.allSettled([first, ...poisoned]);
    expect(results[0]).toEqual({ status: 'fulfilled', value: [2] });
    expect(results[1].status).toBe('rejected');
    expect(results[2].status).toBe('rejected');
    expect(await batcher.submit([4])).toEqual([8]);
  });
});
