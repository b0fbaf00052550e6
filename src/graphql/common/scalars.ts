// Money travels as a decimal string ("12.50") so that no amount is ever rounded by a float.
import { GraphQLScalarType, Kind } from 'graphql';
import { parseScoringTime, scoringTimeFormat } from '../../scoring/as-of.js';

const decimalPattern = /^-?\d{1,10}(\.\d{1,2})?$/;

function parseDecimal(value: unknown): string {
  const text = typeof value === 'number' ? (Number.isFinite(value) ? String(value) : 'not finite') : value;
  if (typeof text !== 'string' || !decimalPattern.test(text)) {
    throw new TypeError('Decimal must be a number or string with at most 10 integer digits and 2 decimals, e.g. "12.50"');
  }
  return text;
}

export const DecimalScalar = new GraphQLScalarType<string, string>({
  name: 'Decimal',
  description: 'An exact decimal amount with two fraction digits, serialized as a string such as "12.50". Input accepts a string or a number.',
  serialize(value) {
    if (value && typeof value === 'object' && 'toFixed' in value) return (value as { toFixed(d: number): string }).toFixed(2);
    if (typeof value === 'number') return value.toFixed(2);
    if (typeof value === 'string') return Number(value).toFixed(2);
    throw new TypeError(`Cannot serialize ${typeof value} as Decimal`);
  },
  parseValue: parseDecimal,
  parseLiteral(ast) {
    if (ast.kind === Kind.STRING || ast.kind === Kind.INT || ast.kind === Kind.FLOAT) return parseDecimal(ast.kind === Kind.STRING ? ast.value : Number(ast.value));
    throw new TypeError('Decimal must be a string or number literal');
  },
});

// The `asOf` arguments: the same text SCORING_AS_OF and `npm run score -- --as-of` accept, with the
// same meaning (src/scoring/as-of.ts), so a date alone is the end of that UTC day everywhere.
function parseScoringTimeInput(value: unknown): Date {
  const time = typeof value === 'string' ? parseScoringTime(value) : null;
  if (!time) throw new TypeError(`ScoringTime must be ${scoringTimeFormat}`);
  return time;
}

export const ScoringTimeScalar = new GraphQLScalarType<Date, string>({
  name: 'ScoringTime',
  description:
    'A scoring time: an ISO 8601 date-time (2015-12-31T12:00:00Z) is that instant; a date alone (2015-12-31) is the end of that UTC day (2015-12-31T23:59:59.999Z), as SCORING_AS_OF and `npm run score -- --as-of` read it.',
  serialize(value) {
    if (value instanceof Date) return value.toISOString();
    throw new TypeError(`Cannot serialize ${typeof value} as ScoringTime`);
  },
  parseValue: parseScoringTimeInput,
  parseLiteral(ast) {
    if (ast.kind !== Kind.STRING) throw new TypeError('ScoringTime must be a string literal');
    return parseScoringTimeInput(ast.value);
  },
});
