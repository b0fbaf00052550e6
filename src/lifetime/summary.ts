// A customer's BG/NBD calibration summary at a scoring time, from the paid orders the feature
// loader already reads (src/features/load.ts: paid orders with orderedAt <= asOf). The same rules
// as python-export/segments/lifetime.py `rfm_summary`, which fitted the card's parameters:
//  - one purchase occasion per UTC calendar day (several orders on one day are one occasion, its
//    value the day's total);
//  - x   = occasions after the first;
//  - t_x = days from the first occasion's day to the last's;
//  - T   = from 00:00 UTC of the first occasion's day to the scoring instant itself;
//  - m   = mean value of the repeat occasions (currency units), null when x = 0;
// times divided by the card's unit (weeks: 7 days). The API counts orders up to and including
// asOf, as the features do (a date alone is the end of that day); the Python fit counted orders
// strictly before the test cutoff (00:00 UTC): the two differ only for an order at that very instant.
import type { PaidOrder } from '../features/compute.js';
import { DAY_MS } from '../features/spec.js';
import type { RfmSummary } from './btyd.js';

export { DAY_MS };

/** Unit-free purchase occasions: what a summary at any unit needs. */
export interface Occasions {
  /** Occasions after the first (x). */
  repeats: number;
  /** UTC day numbers (days since the epoch) of the first and the last occasion. */
  firstDay: number;
  lastDay: number;
  /** Sum of the repeat occasions' values, in cents (exact). */
  repeatCents: number;
}

/** Occasions of paid orders sorted by orderedAt (the loader's order); null without any. */
export function occasionsOf(paidOrders: readonly PaidOrder[], asOfMs: number): Occasions | null {
  let firstDay = NaN;
  let lastDay = NaN;
  let days = 0;
  let firstDayCents = 0;
  let totalCents = 0;
  for (const o of paidOrders) {
    if (o.orderedAtMs > asOfMs) continue;
    const day = Math.floor(o.orderedAtMs / DAY_MS);
    if (days === 0) {
      firstDay = lastDay = day;
      days = 1;
    } else if (day !== lastDay) {
      if (day < lastDay) throw new Error('paid orders must be sorted by orderedAt');
      lastDay = day;
      days += 1;
    }
    if (day === firstDay) firstDayCents += o.amountCents;
    totalCents += o.amountCents;
  }
  if (days === 0) return null;
  return { repeats: days - 1, firstDay, lastDay, repeatCents: totalCents - firstDayCents };
}

/** (x, t_x, T, m) at `asOfMs` in units of `unitDays` days. */
export function rfmSummary(occ: Occasions, asOfMs: number, unitDays: number): RfmSummary {
  const x = occ.repeats;
  return {
    x,
    tX: (occ.lastDay - occ.firstDay) / unitDays,
    T: (asOfMs / DAY_MS - occ.firstDay) / unitDays,
    m: x > 0 ? occ.repeatCents / 100 / x : null,
  };
}
