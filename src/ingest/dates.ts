// Dates in exports that are not ISO 8601: `--date-format` (moment-style tokens, e.g. DD-MM-YYYY or
// MM/DD/YYYY HH:mm) and `--timezone` (IANA zone of times written without an offset). Parsing and
// zone arithmetic (DST included) are luxon's; this file only translates the token grammar.
import { DateTime, IANAZone } from 'luxon';

/** moment-style token → luxon token. Longest first, so MMMM wins over MM. */
const TOKENS: [string, string][] = [
  ['YYYY', 'yyyy'], ['YY', 'yy'],
  ['MMMM', 'MMMM'], ['MMM', 'MMM'], ['MM', 'MM'], ['M', 'M'],
  ['DD', 'dd'], ['D', 'd'],
  ['HH', 'HH'], ['H', 'H'], ['hh', 'hh'], ['h', 'h'],
  ['mm', 'mm'], ['m', 'm'],
  ['ss', 'ss'], ['s', 's'],
  ['SSS', 'SSS'], ['A', 'a'], ['a', 'a'],
  ['ZZ', 'ZZZ'], ['Z', 'ZZ'],
];

export class DateFormatError extends Error {}

/**
 * Translates a moment-style format (the tokens above; [text] is literal) to luxon's syntax.
 * Throws DateFormatError for letters that are not tokens, so a typo is not read as a literal.
 */
export function toLuxonFormat(format: string): string {
  if (format.trim() === '') throw new DateFormatError('--date-format is empty');
  let out = '';
  let hasYear = false;
  for (let i = 0; i < format.length; ) {
    const ch = format[i];
    if (ch === '[') {
      const end = format.indexOf(']', i);
      if (end < 0) throw new DateFormatError(`--date-format: unclosed [ in ${JSON.stringify(format)}`);
      out += `'${format.slice(i + 1, end).replace(/'/g, "''")}'`;
      i = end + 1;
      continue;
    }
    const token = TOKENS.find(([t]) => format.startsWith(t, i));
    if (token) {
      if (token[0].startsWith('Y')) hasYear = true;
      out += token[1];
      i += token[0].length;
      continue;
    }
    if (/[A-Za-z]/.test(ch)) {
      if (ch === 'T') {
        out += "'T'";
        i += 1;
        continue;
      }
      throw new DateFormatError(`--date-format: unknown token ${JSON.stringify(ch)} in ${JSON.stringify(format)} (known: ${TOKENS.map(([t]) => t).join(' ')}; [text] is literal)`);
    }
    out += ch === "'" ? "''" : ch;
    i += 1;
  }
  if (!hasYear) throw new DateFormatError(`--date-format ${JSON.stringify(format)} has no year (YYYY or YY)`);
  return out;
}

export function checkTimeZone(zone: string): string {
  if (!IANAZone.isValidZone(zone)) throw new DateFormatError(`--timezone ${JSON.stringify(zone)} is not an IANA time zone (e.g. Europe/Berlin, UTC)`);
  return zone;
}

/**
 * A parser for one format and zone: text → Date, or null when the text does not match. Remembers
 * the last answer, since line-item exports repeat one date on every line of an order.
 */
export function dateParser(format: string, zone = 'UTC'): (text: string) => Date | null {
  const fmt = toLuxonFormat(format);
  checkTimeZone(zone);
  let lastText: string | undefined;
  let last: Date | null = null;
  return (text) => {
    if (text === lastText) return last;
    const dt = DateTime.fromFormat(text, fmt, { zone, locale: 'en-US' });
    lastText = text;
    last = dt.isValid ? dt.toJSDate() : null;
    return last;
  };
}

/**
 * For ISO times written without an offset: a wall-clock time in `zone` (given as if it were UTC
 * milliseconds) → the instant. Luxon resolves DST gaps (shifted forward) and overlaps (earlier offset).
 */
export function wallClockToInstant(zone: string): (wallClockMs: number) => number {
  checkTimeZone(zone);
  return (ms) => {
    const d = new Date(ms);
    return DateTime.fromObject(
      { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate(), hour: d.getUTCHours(), minute: d.getUTCMinutes(), second: d.getUTCSeconds(), millisecond: d.getUTCMilliseconds() },
      { zone },
    ).toMillis();
  };
}
