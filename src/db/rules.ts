// What an order may contain, whoever writes it: the API's recordOrder (graphql/common/validate.ts)
// and the bulk importer (ingest/) check the same bounds, so a row the API refuses cannot enter
// through an import either. Each check returns the reason (a phrase after the field name) or null.

/** Orders before the Unix epoch are refused: no shop export we read predates it. */
export const EARLIEST_ORDER_TIME_MS = 0;

/** Most items one order may have. */
export const MAX_ITEM_COUNT = 100_000;

/**
 * An order (or customer) time must lie between 1970-01-01 and now + `toleranceSeconds`
 * (ORDER_FUTURE_TOLERANCE_SECONDS: clock skew between the shop and us, not future orders).
 */
export function orderTimeProblem(value: Date, toleranceSeconds: number, now = Date.now()): string | null {
  const t = value.getTime();
  if (Number.isNaN(t) || t < EARLIEST_ORDER_TIME_MS) return 'must be a time after 1970-01-01';
  if (t > now + toleranceSeconds * 1000) return `must not be more than ${toleranceSeconds} seconds in the future`;
  return null;
}

export function itemCountProblem(value: number): string | null {
  return Number.isInteger(value) && value >= 0 && value <= MAX_ITEM_COUNT ? null : `must be an integer from 0 to ${MAX_ITEM_COUNT}`;
}
