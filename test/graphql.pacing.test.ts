// Large batches reach the GraphQL executor slice by slice (src/graphql/common/pacing.ts): values
// keep their order, and other work queued on the event loop runs between two slices.
import { describe, expect, it } from 'vitest';
import { inSlices } from '../src/graphql/common/pacing.js';

describe('inSlices', () => {
  it('hands out a small batch as it is', () => {
    expect(inSlices([1, 2, 3], 4)).toEqual([1, 2, 3]);
  });

  it('resolves one slice per turn of the event loop, in order, with other work between the slices', async () => {
    const seen: string[] = [];
    const out = inSlices(Array.from({ length: 10 }, (_, i) => i), 4);
    expect(out.slice(0, 4)).toEqual([0, 1, 2, 3]);
    out.forEach((v, i) => void Promise.resolve(v).then((x) => seen.push(`value ${x}${x === i ? '' : ' misplaced'}`)));
    // Another request's work, queued on the event loop now: it must run before the second slice.
    setImmediate(() => seen.push('other'));
    await Promise.all(out);
    expect(seen).toEqual(['value 0', 'value 1', 'value 2', 'value 3', 'other', 'value 4', 'value 5', 'value 6', 'value 7', 'value 8', 'value 9']);
  });
});
