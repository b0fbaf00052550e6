// How freely the event loop runs while some work is pending.
import { setImmediate as nextTurn } from 'node:timers/promises';

/** Turns of the event loop while `work` is pending (work that blocks the loop gets very few). */
export async function turnsDuring(work: Promise<unknown>): Promise<number> {
  let done = false;
  const finished = work.finally(() => {
    done = true;
  });
  let turns = 0;
  while (!done) {
    await nextTurn();
    turns += 1;
  }
  await finished;
  return turns;
}
