// Relay-style connections: opaque cursors, pageInfo and a lazily counted totalCount
// (the count query only runs when a client asks for it).
import { Field, Int, ObjectType, type ClassType } from 'type-graphql';
import { ErrorCode, appError, badInput } from '../errors.js';

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

/** Checks `first` against the configured maximum. */
export function pageSize(first: number | null | undefined, defaultSize: number, maxSize: number): number {
  const size = first ?? defaultSize;
  if (size < 0) throw badInput('first', 'must not be negative');
  if (size > maxSize) {
    throw appError(ErrorCode.PAGE_SIZE_EXCEEDED, `first: at most ${maxSize} items per page, got ${size}`, { field: 'first', maxPageSize: maxSize });
  }
  return size;
}
