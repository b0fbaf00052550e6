// Input checks shared by the mutations. Each failure names the offending field.
import { orderTimeProblem } from '../../db/rules.js';
import { badInput } from '../errors.js';
import { isStorableInstant, isStorableText } from './storable.js';

const externalIdPattern = /^[A-Za-z0-9][A-Za-z0-9._:@\/-]{0,127}$/;
const emailPattern = /^[^\s@]{1,64}@[^\s@]{1,190}\.[^\s@]{2,}$/;

export function externalId(field: string, value: string): string {
  if (!externalIdPattern.test(value)) {
    throw badInput(field, 'must be 1–128 characters of letters, digits and . _ : @ / -, starting with a letter or digit');
  }
  return value;
}

// Control characters (NUL cannot be stored by PostgreSQL at all) and lone UTF-16 surrogates (which
// would be stored as U+FFFD, silently changing the value) are refused in free text.
const controlCharacter = /[\u0000-\u001f\u007f]/;

export function requiredText(field: string, value: string | null | undefined, max: number): string {
  const text = value?.trim();
  if (!text) throw badInput(field, 'is required');
  if (text.length > max) throw badInput(field, `must be at most ${max} characters`);
  if (controlCharacter.test(text) || !isStorableText(text)) throw badInput(field, 'must not contain control characters or invalid Unicode');
  return text;
}

export function email(field: string, value: string): string {
  const text = value.trim().toLowerCase();
  if (text.length > 254 || !emailPattern.test(text) || controlCharacter.test(text) || !isStorableText(text)) {
    throw badInput(field, 'is not a valid email address');
  }
  return text;
}

/** A time PostgreSQL can store and compare (years 0001–9999); year 0000 or −271821 is a client error. */
export function storableTime(field: string, value: Date): Date {
  if (!isStorableInstant(value)) throw badInput(field, 'must be a time from 0001-01-01 to 9999-12-31');
  return value;
}

export function countryCode(field: string, value: string): string {
  if (!/^[A-Z]{2}$/.test(value)) throw badInput(field, 'must be an ISO 3166-1 alpha-2 code such as "DE"');
  return value;
}

export function currencyCode(field: string, value: string): string {
  if (!/^[A-Z]{3}$/.test(value)) throw badInput(field, 'must be an ISO 4217 code of three upper-case letters such as "EUR"');
  return value;
}

export function nonNegativeAmount(field: string, value: string): string {
  if (value.startsWith('-')) throw badInput(field, 'must not be negative');
  return value;
}

export function intInRange(field: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) throw badInput(field, `must be an integer from ${min} to ${max}`);
  return value;
}

/** Rejects times before 1970 or later than now + tolerance (clock skew between shop and API). */
export function pastTime(field: string, value: Date, toleranceSeconds: number, now = Date.now()): Date {
  const problem = orderTimeProblem(value, toleranceSeconds, now); // the importer applies the same rule
  if (problem) throw badInput(field, problem);
  return value;
}

export function pastDay(field: string, value: string, now = new Date()): string {
  if (value > now.toISOString().slice(0, 10) || value < '1900-01-01') throw badInput(field, 'must be a date from 1900-01-01 to today');
  return value;
}

/** The PostgreSQL SQLSTATE behind a Prisma/driver error, when there is one. */
export function sqlState(err: unknown): string | undefined {
  const e = err as { code?: string; meta?: { driverAdapterError?: { cause?: { originalCode?: string; code?: string } } } };
  const cause = e?.meta?.driverAdapterError?.cause;
  return cause?.originalCode ?? cause?.code;
}
