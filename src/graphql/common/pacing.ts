// Results of a large batch handed to the GraphQL executor slice by slice. A DataLoader resolves every
// key of its batch at once, and graphql-js then completes all of them (the field resolvers above
// and the fields below, e.g. phrasing 1000 explanations) in one run of the microtask queue: no
// other request is read meanwhile — a 1000-row explanation page held the event loop for 100–650 ms
// at a stretch (bench/explain-pool.ts, profiled). Slice k resolves only after k turns of the event
// loop, so other requests' I/O, and other pages' slices, are served between the slices.

import { setImmediate as nextTurn } from 'node:timers/promises';

/** Values per turn of the event loop: ≈ 1–3 ms of completion for an explained customer. */
export const RESULT_SLICE = 32;

/** The same values in order; from the second slice on, as promises that settle one slice per turn. */
export function inSlices<V>(values: readonly V[], slice = RESULT_SLICE): (V | Promise<V>)[] {
  if (values.length <= slice) return [...values];
  const out: (V | Promise<V>)[] = values.slice(0, slice);
  let turn = Promise.resolve();
  for (let start = slice; start < values.length; start += slice) {
    turn = turn.then(() => nextTurn());
    const ready = turn;
    for (const v of values.slice(start, start + slice)) out.push(ready.then(() => v));
  }
  return out;
}
