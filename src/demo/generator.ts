// Deterministic synthetic customers and orders for demos, tests and scale runs.
//
// Customer i (1-based) is drawn from its own random stream Random(seed, i), so it depends on
// (seed, i, anchor) only: the first N customers are identical whatever the total, and a stream of
// 1,000,000 customers never holds more than one customer in memory.
//
// Orders follow a heterogeneous "buy till you die" process (Pareto/NBD-like):
//   signup       uniformly-ish over the `historyDays` before the anchor (slightly more recent signups),
//   first order  at signup for most customers (createdAt = first order time),
//   λ ~ Gamma    repeat purchase rate per customer (orders/day),
//   μ ~ Gamma    dropout rate; lifetime ~ Exp(μ),
//   repeats      Poisson(λ) while alive and before the anchor,
//   spend        per-customer mean (log-normal, a little higher for older customers) × Gamma noise.
// Every timestamp is strictly before the anchor instant (00:00:00.000Z of the anchor day).
import type { OrderRow, OrderStatusValue } from '../ingest/bulk.js';
import { Random } from './random.js';

const DAY_MS = 86_400_000;

/** A generated order is exactly a row for the bulk inserter. */
export type DemoOrder = OrderRow;

export interface DemoCustomer {
  /** 1-based position in the stream. */
  index: number;
  externalId: string;
  name: string;
  email: string;
  gender: 'F' | 'M' | null;
  /** YYYY-MM-DD */
  birthDate: string | null;
  country: string | null;
  createdAt: Date;
  /** In time order. */
  orders: DemoOrder[];
}

export interface GeneratorOptions {
  /** How many customers (indexes 1..customers, or start..start+customers-1). */
  customers: number;
  seed: number;
  /** The anchor day (UTC), YYYY-MM-DD or a Date (its UTC day is used). */
  anchor: string | Date;
  /** First index (default 1). */
  start?: number;
  /** Days of history before the anchor during which customers join (default 730). */
  historyDays?: number;
}

/** Parses a YYYY-MM-DD day (or a Date) into the epoch milliseconds of its 00:00 UTC. */
export function anchorTime(anchor: string | Date): number {
  if (anchor instanceof Date) {
    if (Number.isNaN(anchor.getTime())) throw new RangeError('anchor: invalid date');
    return Date.UTC(anchor.getUTCFullYear(), anchor.getUTCMonth(), anchor.getUTCDate());
  }
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(anchor);
  if (!m) throw new RangeError(`anchor: expected YYYY-MM-DD, got ${JSON.stringify(anchor)}`);
  const t = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  if (new Date(t).toISOString().slice(0, 10) !== anchor) throw new RangeError(`anchor: no such day ${anchor}`);
  return t;
}

/** Today (UTC) as YYYY-MM-DD: the default anchor of the demo data. */
export function todayUtc(now = new Date()): string {
  return now.toISOString().slice(0, 10);
}

export function demoCustomerId(index: number): string {
  return `demo-${String(index).padStart(7, '0')}`;
}

export function demoOrderId(index: number, n: number): string {
  return `${demoCustomerId(index)}-${String(n).padStart(4, '0')}`;
}

const FEMALE = ['Anna', 'Maria', 'Emma', 'Olivia', 'Sofia', 'Mia', 'Laura', 'Julia', 'Chloe', 'Grace', 'Hannah', 'Lea', 'Ines', 'Yuki', 'Priya', 'Amara', 'Elena', 'Zoe', 'Clara', 'Nora', 'Ava', 'Isabel', 'Lucia', 'Freya'];
const MALE = ['James', 'Liam', 'Noah', 'Lucas', 'Oliver', 'Mateo', 'Leon', 'Hugo', 'Arjun', 'Kenji', 'David', 'Samuel', 'Felix', 'Omar', 'Jonas', 'Daniel', 'Adam', 'Ethan', 'Marco', 'Pablo', 'Tom', 'Ivan', 'Erik', 'Theo'];
const LAST = ['Smith', 'Johnson', 'Brown', 'Garcia', 'Miller', 'Davis', 'Martin', 'Muller', 'Schmidt', 'Dubois', 'Rossi', 'Silva', 'Kowalski', 'Nielsen', 'Tanaka', 'Sato', 'Patel', 'Singh', 'Kim', 'Nguyen', 'Lopez', 'Wilson', 'Taylor', 'Moore', 'Clark', 'Lewis', 'Walker', 'Young', 'King', 'Wright', 'Hill', 'Green', 'Baker', 'Adams', 'Novak', 'Berg'];

// ISO-2 countries with weights; the remaining weight is "unknown" (null).
const COUNTRIES = ['US', 'GB', 'DE', 'FR', 'CA', 'AU', 'NL', 'ES', 'IT', 'SE', 'BR', 'JP', 'IN', 'MX', 'PL', 'IE', 'BE', 'CH', 'AT', 'DK'];
const COUNTRY_WEIGHTS = [34, 10, 9, 7, 6, 4, 3, 3, 3, 2, 3, 3, 3, 2, 2, 1, 1, 1, 1, 1];
const COUNTRY_MISSING = 0.04;
const COUNTRY_TOTAL = COUNTRY_WEIGHTS.reduce((a, b) => a + b, 0);

// Process parameters (per day). Tuned so that, at a cutoff 90 days before the anchor, a good share
// of the existing customers buy again within the 90 days (active / high_value) and most do not (lapsing).
const P_NEVER_BUYS = 0.07;
const LAMBDA_SHAPE = 0.8;
const LAMBDA_MEAN = 1 / 45; // ≈ 8 orders a year
const MU_SHAPE = 0.7;
const MU_MEAN = 1 / 400; // mean rate; lifetimes are heavy-tailed (Gamma mixture of exponentials)
const MAX_ORDERS = 400;

function formatAmount(x: number): string {
  return (Math.max(100, Math.round(x * 100)) / 100).toFixed(2);
}

function isoDay(t: number): string {
  return new Date(t).toISOString().slice(0, 10);
}

/** Generates customer `index` (1-based) of the stream for `seed`. */
export function generateCustomer(seed: number, index: number, anchor: string | Date | number, historyDays = 730): DemoCustomer {
  const anchorMs = typeof anchor === 'number' ? anchor : anchorTime(anchor);
  const rng = new Random(seed, index);
  const externalId = demoCustomerId(index);

  // Demographics.
  const g = rng.next();
  const gender: 'F' | 'M' | null = g < 0.48 ? 'F' : g < 0.94 ? 'M' : null;
  const first = gender === 'F' ? rng.pick(FEMALE) : gender === 'M' ? rng.pick(MALE) : rng.pick(rng.bool(0.5) ? FEMALE : MALE);
  const last = rng.pick(LAST);
  const name = `${first} ${last}`;
  const email = `${first}.${last}.${index}@example.com`.toLowerCase();
  const age = Math.min(85, 18 + rng.gamma(3, 7.5));
  const hasBirthDate = rng.bool(0.88);
  const birthDate = hasBirthDate ? isoDay(anchorMs - Math.floor(age * 365.25 * DAY_MS)) : null;
  const country = rng.bool(COUNTRY_MISSING) ? null : COUNTRIES[rng.weightedIndex(COUNTRY_WEIGHTS, COUNTRY_TOTAL)];

  // Signup: more recent signups slightly more likely (a growing shop).
  const ageDays = historyDays * Math.pow(rng.nextOpen(), 1.15);
  const signup = anchorMs - Math.max(1, Math.floor(ageDays * DAY_MS));

  // Buy till you die.
  const lambda = rng.gamma(LAMBDA_SHAPE, LAMBDA_MEAN / LAMBDA_SHAPE);
  const mu = rng.gamma(MU_SHAPE, MU_MEAN / MU_SHAPE);
  const death = signup + rng.exponential(mu) * DAY_MS;
  const end = Math.min(death, anchorMs);
  const meanSpend = rng.lognormal(Math.log(38), 0.55) * (1 + (age - 40) / 120);
  const neverBuys = rng.bool(P_NEVER_BUYS);

  const times: number[] = [];
  if (!neverBuys) {
    times.push(signup);
    let t = signup;
    while (times.length < MAX_ORDERS) {
      t += rng.exponential(lambda) * DAY_MS;
      if (t >= end) break;
      times.push(Math.floor(t));
    }
  }

  const orders: DemoOrder[] = times.map((at, k) => {
    const amount = meanSpend * rng.gamma(5, 1 / 5);
    const s = rng.next();
    const status: OrderStatusValue = s < 0.94 ? 'paid' : s < 0.98 ? 'refunded' : 'cancelled';
    return {
      externalId: demoOrderId(index, k + 1),
      customerExternalId: externalId,
      orderedAt: new Date(at),
      amount: formatAmount(amount),
      itemCount: 1 + rng.poisson(Math.max(0, amount / 30 - 0.6)),
      currency: 'USD',
      status,
    };
  });

  return { index, externalId, name, email, gender, birthDate, country, createdAt: new Date(signup), orders };
}

/** Streams customers start..start+customers-1 (1-based); holds one customer at a time. */
export function* generateCustomers(options: GeneratorOptions): Generator<DemoCustomer> {
  const anchorMs = anchorTime(options.anchor);
  const start = options.start ?? 1;
  for (let i = start; i < start + options.customers; i++) yield generateCustomer(options.seed, i, anchorMs, options.historyDays);
}
