import { describe, expect, it } from 'vitest';
import { Coalescer } from '../src/db/coalesce.js';

/**
 * A "statement" that maps each key to key × 10 and finishes only when the test releases it, so the
 * tests decide what is in flight by events, not by timers (they must hold on a busy machine).
 */
function gatedStatements() {
  const calls: { group: string; keys: number[] }[] = [];
  const gates: ((fail?: boolean) => void)[] = [];
  let started: (() => void) | undefined;
  const fetch = async (group: string, keys: number[]) => {
    calls.push({ group, keys });
    started?.();
    const fail = await new Promise<boolean | undefined>((r) => gates.push(r));
    if (fail) throw new Error('statement failed');
    return new Map(keys.filter((k) => k >= 0).map((k) => [k, k * 10]));
  };
  return {
    calls,
    fetch,
    nextStart: () => new Promise<void>((r) => (started = r)),
    release: (fail = false) => gates.splice(0).forEach((g) => g(fail)),
  };
}

describe('Coalescer (cross-request statements)', () => {
  it('sends a lone lookup at once, by itself', async () => {
    const s = gatedStatements();
    const c = new Coalescer(s.fetch, { maxKeys: 100, maxInFlight: 1 });
    const started = s.nextStart();
    const p = c.load('a', [1, 2]);
    await started;
    s.release();
    expect(await p).toEqual([10, 20]);
    expect(s.calls).toEqual([{ group: 'a', keys: [1, 2] }]);
  });

  it('merges lookups that wait for a running statement into one, each getting its own keys back in order', async () => {
    const s = gatedStatements();
    const c = new Coalescer(s.fetch, { maxKeys: 100, maxInFlight: 1 });
    let started = s.nextStart();
    const first = c.load('a', [1]);
    await started;
    // While the first statement runs, three more lookups arrive (one repeats a key, one is unknown).
    started = s.nextStart();
    const waiting = [c.load('a', [3, 2]), c.load('a', [2]), c.load('a', [-5, 4])];
    s.release();
    expect(await first).toEqual([10]);
    await started;
    expect(s.calls[1]).toEqual({ group: 'a', keys: [3, 2, -5, 4] });
    s.release();
    expect(await Promise.all(waiting)).toEqual([[30, 20], [20], [undefined, 40]]);
    expect(c.statements).toBe(2);
    expect(c.lookups).toBe(4);
  });

  it('never merges lookups of different groups, and bounds the keys per statement', async () => {
    const s = gatedStatements();
    const c = new Coalescer(s.fetch, { maxKeys: 3, maxInFlight: 1 });
    let started = s.nextStart();
    const first = c.load('a', [0]);
    await started;
    const rest = [c.load('b', [1]), c.load('a', [2, 3]), c.load('a', [4, 5]), c.load('b', [6])];
    started = s.nextStart();
    s.release();
    await first;
    for (let i = 0; i < 3; i++) {
      await started;
      started = s.nextStart();
      s.release();
    }
    expect(await Promise.all(rest)).toEqual([[10], [20, 30], [40, 50], [60]]);
    // Oldest group first: b (1, 6), then a (2, 3), then a (4, 5) — never more than 3 keys.
    expect(s.calls.slice(1)).toEqual([
      { group: 'b', keys: [1, 6] },
      { group: 'a', keys: [2, 3] },
      { group: 'a', keys: [4, 5] },
    ]);
  });

  it('joins only statements not yet sent: a lookup made while one runs waits for the next', async () => {
    const s = gatedStatements();
    const c = new Coalescer(s.fetch, { maxKeys: 100, maxInFlight: 1 });
    let started = s.nextStart();
    const first = c.load('a', [1]);
    await started;
    started = s.nextStart();
    const second = c.load('a', [1]);
    s.release();
    await first;
    await started;
    expect(s.calls).toHaveLength(2); // the same key, read again by a later statement
    s.release();
    expect(await second).toEqual([10]);
  });

  it('fails exactly the lookups of a failed statement', async () => {
    const s = gatedStatements();
    const c = new Coalescer(s.fetch, { maxKeys: 100, maxInFlight: 1 });
    let started = s.nextStart();
    const first = c.load('a', [1]);
    await started;
    started = s.nextStart();
    const second = c.load('a', [2]);
    s.release(true);
    await expect(first).rejects.toThrow('statement failed');
    await started;
    s.release();
    expect(await second).toEqual([20]);
  });

  it('runs up to maxInFlight statements at once', async () => {
    const s = gatedStatements();
    const c = new Coalescer(s.fetch, { maxKeys: 100, maxInFlight: 2 });
    let started = s.nextStart();
    const a = c.load('a', [1]);
    await started;
    started = s.nextStart();
    const b = c.load('a', [2]);
    await started; // the second statement started while the first still runs
    const waiting = c.load('a', [3]);
    expect(s.calls).toHaveLength(2);
    started = s.nextStart();
    s.release();
    await Promise.all([a, b]);
    await started;
    s.release();
    expect(await waiting).toEqual([30]);
    expect(s.calls.map((x) => x.keys)).toEqual([[1], [2], [3]]);
  });
});
