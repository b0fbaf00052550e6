// Scoring times given as text (SCORING_AS_OF, `npm run score -- --as-of`, the GraphQL `asOf`
// argument) mean one thing everywhere: an ISO date-time is that instant, and a date alone
// (YYYY-MM-DD) is the END of that UTC day (T23:59:59.999Z) — like the default scoring time, the
// end of the current UTC day — so "as of 2015-12-31" includes the orders of December 31st.

export const DAY_MS = 86_400_000;

const dateOnly = /^(\d{4})-(\d{2})-(\d{2})$/;
const dateTime = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(?:Z|[+-](\d{2}):(\d{2}))$/i;

/** True when year-month-day names a day of the Gregorian calendar (no February 30th). */
function isCalendarDay(year: number, month: number, day: number): boolean {
  const d = new Date(Date.UTC(2000, month - 1, day));
  d.setUTCFullYear(year);
  return month >= 1 && month <= 12 && d.getUTCMonth() === month - 1 && d.getUTCDate() === day;
}

/** The last millisecond of the UTC day containing `instant`. */
export const endOfUtcDay = (instant: number) => new Date(Math.floor(instant / DAY_MS) * DAY_MS + DAY_MS - 1);

/** Parses a scoring time; null when the text is neither an ISO date nor an ISO date-time. */
export function parseScoringTime(text: string): Date | null {
  const day = dateOnly.exec(text);
  if (day) {
    const [year, month, date] = day.slice(1).map(Number);
    if (!isCalendarDay(year, month, date)) return null;
    return endOfUtcDay(Date.parse(`${text}T00:00:00.000Z`));
  }
  const time = dateTime.exec(text);
  if (!time) return null;
  const [year, month, date, hour, minute, second, offsetHours, offsetMinutes] = time.slice(1).map((x) => Number(x ?? 0));
  if (!isCalendarDay(year, month, date) || hour > 23 || minute > 59 || second > 59 || offsetHours > 23 || offsetMinutes > 59) return null;
  const instant = Date.parse(text);
  return Number.isNaN(instant) ? null : new Date(instant);
}

/**
 * The scoring times the API, `npm run score` and the batch functions accept. A time further ahead
 * sees no orders the present does not, yet its recency and tenure features run on and move every
 * customer towards lapsing: a batch run at such a time would replace the served scores with that.
 */
export const SCORING_TIME_RANGE = 'between 1970 and one year from now';

/** True when `asOf` lies outside SCORING_TIME_RANGE (or is not a date at all). */
export function outOfScoringRange(asOf: Date, now = Date.now()): boolean {
  const t = asOf.getTime();
  return !(t >= 0 && t <= now + 366 * DAY_MS);
}

export const scoringTimeFormat = 'an ISO date-time (e.g. 2015-12-31T12:00:00Z) or a date (2015-12-31 = the end of that UTC day, 23:59:59.999Z)';
