// Relay-style connections: opaque cursors, pageInfo and a lazily counted totalCount
// (the count query only runs when a client asks for it).
import { Field, Int, ObjectType, type ClassType } from 'type-graphql';
import { ErrorCode, appError, badInput } from '../errors.js';
import { isStorableInstant, isStorableText } from './storable.js';

@ObjectType({ description: 'Relay page information.' })
export class PageInfo {
  @Field(() => Boolean) hasNextPage!: boolean;
  @Field(() => Boolean, { description: 'True when this page was requested with `after`.' }) hasPreviousPage!: boolean;
  @Field(() => String, { nullable: true }) startCursor!: string | null;
  @Field(() => String, { nullable: true }) endCursor!: string | null;
}

export interface Page<T> {
  edges: { cursor: string; node: T }[];
  pageInfo: PageInfo;
  totalCount: () => Promise<number>;
}

export function Connection<T extends object>(name: string, nodeType: ClassType<T>) {
  @ObjectType(`${name}Edge`)
  class Edge {
    @Field(() => String) cursor!: string;
    @Field(() => nodeType) node!: T;
  }

  @ObjectType(`${name}Connection`)
  class ConnectionType {
    @Field(() => [Edge]) edges!: Edge[];
    @Field(() => PageInfo) pageInfo!: PageInfo;
    count!: () => Promise<number>;

    @Field(() => Int, { description: 'Number of items matching the filter, across all pages.' })
    totalCount(): Promise<number> {
      return this.count();
    }

    static from(page: Page<T>): ConnectionType {
      return Object.assign(new ConnectionType(), { edges: page.edges, pageInfo: page.pageInfo, count: page.totalCount });
    }
  }
  return ConnectionType;
}

/** A keyset position: the value of the sort key and the row id, tagged with the ordering it belongs to. */
export interface CursorPosition {
  sort: string;
  value: string | null;
  id: string;
}

export function encodeCursor(position: CursorPosition): string {
  return Buffer.from(JSON.stringify([position.sort, position.value, position.id])).toString('base64url');
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function decodeCursor(cursor: string, expectedSort: string): CursorPosition {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (
      Array.isArray(parsed) &&
      parsed.length === 3 &&
      parsed[0] === expectedSort &&
      (typeof parsed[1] === 'string' || parsed[1] === null) &&
      typeof parsed[2] === 'string' &&
      uuidPattern.test(parsed[2])
    ) {
      return { sort: parsed[0], value: parsed[1], id: parsed[2] };
    }
  } catch {
    // fall through
  }
  throw appError(ErrorCode.INVALID_CURSOR, 'after: not a cursor issued for this list and ordering', { field: 'after' });
}

/**
 * The SQL types a keyset cursor's sort value can have. A cursor is client input: its value must be
 * one PostgreSQL will accept for the ordering's type, checked here in full — a value that only looks
 * right ("2024-13-45 99:99:99", "9999999999" for an int, "1e999", a NUL byte) would otherwise fail in
 * the database and surface as an internal error instead of INVALID_CURSOR.
 */
export type CursorValueType = 'timestamptz' | 'text' | 'int' | 'numeric' | 'float8';

// The text PostgreSQL prints for a timestamptz (DateStyle ISO): date, time, optional fraction and UTC offset.
const timestampText = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.\d{1,6})?(?:Z|([+-])(\d{2})(?::?(\d{2}))?(?::(\d{2}))?)?$/;

const isLeapYear = (y: number) => (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
const daysInMonth = (year: number, month: number) => (month === 2 && isLeapYear(year) ? 29 : [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]);

function isTimestampText(value: string): boolean {
  if (value === 'infinity' || value === '-infinity') return true;
  const m = timestampText.exec(value);
  if (!m) return false;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number);
  const [offsetHours, offsetMinutes, offsetSeconds] = [m[8], m[9], m[10]].map((x) => Number(x ?? 0));
  return (
    year >= 1 && month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth(year, month) &&
    hour <= 23 && minute <= 59 && second <= 59 &&
    offsetHours <= 15 && offsetMinutes <= 59 && offsetSeconds <= 59
  );
}

function isFloat8Text(value: string): boolean {
  if (value === 'Infinity' || value === '-Infinity') return true;
  if (!/^-?\d+(\.\d+)?(e[-+]?\d+)?$/.test(value)) return false;
  const n = Number(value);
  // PostgreSQL refuses what overflows to ±Infinity or underflows to 0 ("1e999", "1e-999").
  return Number.isFinite(n) && (n !== 0 || !/[1-9]/.test(value.split('e')[0]));
}

export function isValidCursorValue(type: CursorValueType, value: string | null): boolean {
  if (value === null) return false;
  switch (type) {
    case 'timestamptz':
      return isTimestampText(value);
    case 'text':
      return value.length <= 256 && isStorableText(value);
    case 'int':
      return /^-?\d{1,10}$/.test(value) && Number(value) >= -(2 ** 31) && Number(value) <= 2 ** 31 - 1;
    case 'numeric':
      return /^-?\d{1,15}(\.\d{1,10})?$/.test(value);
    case 'float8':
      return isFloat8Text(value);
  }
}

/** A cursor value written by `Date.toISOString()` (the orders cursor), or null when it is not one. */
export function cursorInstant(value: string | null): Date | null {
  if (value === null || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/.test(value)) return null;
  const date = new Date(value);
  return isStorableInstant(date) && date.toISOString() === value ? date : null;
}

/** Checks `first` against the configured maximum. */
export function pageSize(first: number | null | undefined, defaultSize: number, maxSize: number): number {
  const size = first ?? defaultSize;
  if (size < 0) throw badInput('first', 'must not be negative');
  if (size > maxSize) {
    throw appError(ErrorCode.PAGE_SIZE_EXCEEDED, `first: at most ${maxSize} items per page, got ${size}`, { field: 'first', maxPageSize: maxSize });
  }
  return size;
}
