// Pure feature computation, exactly per python-export/features.json (reference:
// python-export/segments/features.py). No I/O: load.ts feeds it rows from the database.
//
// Conventions kept bit-for-bit with the pandas reference:
//  - instants are integer UTC milliseconds; "days" are (a - b) / DAY_MS in float64;
//  - a window of W days is (T - W*DAY_MS, T]; only orders with orderedAt <= T count (the caller
//    passes paid orders; orders after T are skipped here as well, as a leakage guard);
//  - money is summed in integer cents and divided by 100 once;
//  - purchase days are distinct UTC day numbers floor(t / DAY_MS);
//  - inter-purchase gaps: population std (ddof = 0), the sum of squared deviations with Kahan
//    compensation like pandas' groupby sum;
//  - NaN for missing values; counts and sums over nothing are 0;
//  - an order without a known amount (--no-amounts) counts as an order, but a money feature whose
//    window holds one is NaN, and its sequence token amount is 0 (spec 1.1.0 conventions.unknown_amount).
import {
  DAY_MS,
  FEATURE_COUNT,
  FEATURE_INDEX as F,
  SEQUENCE_MAX_ORDERS,
  SEQUENCE_TOKEN_WIDTH,
  WINDOWS_DAYS,
} from './spec.js';

export interface CustomerAttributes {
  /** Account creation instant; null = unknown (tenure NaN). */
  createdAt: Date | null;
  /** YYYY-MM-DD (taken at 00:00:00.000Z); null = unknown (age NaN). */
  birthDate: string | null;
  /** 'F' | 'M'; anything else (null, '', unknown) gives is_female NaN. */
  gender: string | null;
}

export interface PaidOrder {
  /** UTC milliseconds since the epoch. */
  orderedAtMs: number;
  /** Exact integer cents (0 when the amount is unknown). */
  amountCents: number;
  /** false when the source had no amount (Order.amountKnown); absent = known. */
  amountKnown?: boolean;
  itemCount: number;
  externalId: string;
}

const WINDOW_COUNT = WINDOWS_DAYS.length;

/** Python-style floor division by DAY_MS (works for instants before 1970). */
const utcDay = (ms: number) => Math.floor(ms / DAY_MS);

/** Monday = 0 … Sunday = 6 (1970-01-01, day 0, was a Thursday = 3). */
const dayOfWeek = (ms: number) => (((utcDay(ms) + 3) % 7) + 7) % 7;

function birthDateMs(birthDate: string | null): number {
  if (birthDate === null || birthDate === '') return NaN;
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(birthDate.trim());
  if (!m) throw new Error(`birthDate ${JSON.stringify(birthDate)} is not YYYY-MM-DD`);
  return Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
}

/** Number of leading orders with orderedAtMs <= asOfMs; checks that the orders are in time order. */
function countedPrefix(orders: readonly PaidOrder[], asOfMs: number): number {
  let n = 0;
  let prev = -Infinity;
  for (const o of orders) {
    if (o.orderedAtMs < prev) {
      throw new Error('paid orders must be sorted by (orderedAt, externalId) ascending');
    }
    prev = o.orderedAtMs;
    if (o.orderedAtMs <= asOfMs) n += 1;
  }
  return n;
}

/**
 * The spec's 27 features (FEATURE_NAMES order) of one customer at instant `asOfMs`.
 * `paidOrders`: the customer's paid orders sorted by (orderedAt, externalId); orders after asOf are
 * ignored. Writes into `out` at `offset` when given (e.g. a row of a batch tensor), else allocates.
 */
export function computeFeatures(
  customer: CustomerAttributes,
  paidOrders: readonly PaidOrder[],
  asOfMs: number,
  out: Float64Array = new Float64Array(FEATURE_COUNT),
  offset = 0,
): Float64Array {
  const T = asOfMs;
  const n = countedPrefix(paidOrders, T);

  const windowStart = WINDOWS_DAYS.map((w) => T - w * DAY_MS);
  const ordersW = new Array<number>(WINDOW_COUNT).fill(0);
  const centsW = new Array<number>(WINDOW_COUNT).fill(0);
  const daysW = new Array<number>(WINDOW_COUNT).fill(0);
  const unknownW = new Array<boolean>(WINDOW_COUNT).fill(false);
  let unknownAll = false;
  let centsAll = 0;
  let daysAll = 0;
  let itemsAll = 0;
  let maxCents = -Infinity;
  let gapSum = 0;
  let gapCount = 0;
  let prevDay = NaN;
  let prevMs = NaN;

  for (let i = 0; i < n; i++) {
    const o = paidOrders[i];
    const t = o.orderedAtMs;
    const day = utcDay(t);
    const newDay = day !== prevDay;
    const unknown = o.amountKnown === false;
    if (unknown) unknownAll = true;
    centsAll += o.amountCents;
    itemsAll += o.itemCount;
    if (o.amountCents > maxCents) maxCents = o.amountCents;
    if (newDay) {
      daysAll += 1;
      if (i > 0) {
        gapSum += day - prevDay;
        gapCount += 1;
      }
    }
    for (let w = 0; w < WINDOW_COUNT; w++) {
      if (t > windowStart[w]) {
        ordersW[w] += 1;
        centsW[w] += o.amountCents;
        if (unknown) unknownW[w] = true;
        // Windows are suffixes of the time-ordered list: the first order inside a window starts a
        // purchase day even when its predecessor (outside the window) fell on the same UTC day.
        if (newDay || !(prevMs > windowStart[w])) daysW[w] += 1;
      }
    }
    prevDay = day;
    prevMs = t;
  }

  const o = offset;
  const first = n > 0 ? paidOrders[0].orderedAtMs : NaN;
  const last = n > 0 ? paidOrders[n - 1].orderedAtMs : NaN;
  out[o + F.recency_days] = (T - last) / DAY_MS;
  out[o + F.days_since_first_order] = (T - first) / DAY_MS;
  // A creation instant after T is not known at T (the customer does not exist yet): NaN, as unknown.
  out[o + F.tenure_days] = customer.createdAt === null || customer.createdAt.getTime() > T ? NaN : (T - customer.createdAt.getTime()) / DAY_MS;

  out[o + F.orders_30d] = ordersW[0];
  out[o + F.orders_90d] = ordersW[1];
  out[o + F.orders_180d] = ordersW[2];
  out[o + F.orders_365d] = ordersW[3];
  out[o + F.orders_all] = n;
  out[o + F.purchase_days_30d] = daysW[0];
  out[o + F.purchase_days_90d] = daysW[1];
  out[o + F.purchase_days_180d] = daysW[2];
  out[o + F.purchase_days_365d] = daysW[3];
  out[o + F.purchase_days_all] = daysAll;
  out[o + F.spend_30d] = unknownW[0] ? NaN : centsW[0] / 100;
  out[o + F.spend_90d] = unknownW[1] ? NaN : centsW[1] / 100;
  out[o + F.spend_180d] = unknownW[2] ? NaN : centsW[2] / 100;
  out[o + F.spend_365d] = unknownW[3] ? NaN : centsW[3] / 100;
  const spendAll = unknownAll ? NaN : centsAll / 100;
  out[o + F.spend_all] = spendAll;
  out[o + F.monetary_mean] = n > 0 ? spendAll / n : NaN;
  out[o + F.monetary_max] = n > 0 && !unknownAll ? maxCents / 100 : NaN;
  out[o + F.items_all] = itemsAll;

  const iptMean = gapCount >= 1 ? gapSum / gapCount : NaN;
  out[o + F.ipt_mean_days] = iptMean;
  if (gapCount >= 2) {
    // Second pass over the purchase days: sum of squared deviations (Kahan, as pandas sums).
    let sum = 0;
    let comp = 0;
    let pd = NaN;
    for (let i = 0; i < n; i++) {
      const day = utcDay(paidOrders[i].orderedAtMs);
      if (day === pd) continue;
      if (i > 0) {
        const d = day - pd - iptMean;
        const y = d * d - comp;
        const s = sum + y;
        comp = s - sum - y;
        sum = s;
      }
      pd = day;
    }
    out[o + F.ipt_std_days] = Math.sqrt(sum / gapCount);
  } else {
    out[o + F.ipt_std_days] = NaN;
  }

  out[o + F.spend_trend_90d] = unknownW[2] ? NaN : (2 * centsW[1] - centsW[2]) / 100;
  out[o + F.orders_trend_90d] = 2 * ordersW[1] - ordersW[2];
  out[o + F.age_years] = (T - birthDateMs(customer.birthDate)) / DAY_MS / 365.25;
  const g = customer.gender?.trim() ?? '';
  out[o + F.is_female] = g === 'F' ? 1 : g === 'M' ? 0 : NaN;
  return out;
}

export interface SequenceResult<A extends Float32Array | Float64Array> {
  /** SEQUENCE_MAX_ORDERS × SEQUENCE_TOKEN_WIDTH values, row-major, padding rows all 0. */
  tokens: A;
  /** Real orders in `tokens` (the mask is 1 for the first `length` positions). */
  length: number;
  /** Positions (0-based) whose order has no known amount: their token amount 0 means "unknown". */
  unknownAmounts: number[];
}

/**
 * The Transformer's tokens of one customer at `asOfMs`: the last SEQUENCE_MAX_ORDERS counted orders,
 * oldest first, left-aligned, each [amount, item_count, gap_days, days_before_t, day_of_week]; gap_days
 * is measured from the previous counted order in the full history (0 for the very first order).
 * Writes into `out` at `offset` (which must be zero-filled for the padding) when given.
 */
export function computeSequence<A extends Float32Array | Float64Array = Float64Array>(
  paidOrders: readonly PaidOrder[],
  asOfMs: number,
  out?: A,
  offset = 0,
): SequenceResult<A> {
  const tokens = out ?? (new Float64Array(SEQUENCE_MAX_ORDERS * SEQUENCE_TOKEN_WIDTH) as A);
  const n = countedPrefix(paidOrders, asOfMs);
  const start = Math.max(0, n - SEQUENCE_MAX_ORDERS);
  let p = offset;
  const unknownAmounts: number[] = [];
  for (let i = start; i < n; i++) {
    const o = paidOrders[i];
    if (o.amountKnown === false) unknownAmounts.push(i - start);
    const t = o.orderedAtMs;
    tokens[p] = o.amountKnown === false ? 0 : o.amountCents / 100;
    tokens[p + 1] = o.itemCount;
    tokens[p + 2] = i === 0 ? 0 : (t - paidOrders[i - 1].orderedAtMs) / DAY_MS;
    tokens[p + 3] = (asOfMs - t) / DAY_MS;
    tokens[p + 4] = dayOfWeek(t);
    p += SEQUENCE_TOKEN_WIDTH;
  }
  return { tokens, length: n - start, unknownAmounts };
}
