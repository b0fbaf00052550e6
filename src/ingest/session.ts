// The connection an import runs on: ONE transaction, and a fast way to fill its staging tables.
//
//   PostgreSQL (DATABASE_URL)       a pooled pg client; rows stream in with COPY … FROM STDIN
//                                   (pg-copy-streams), in PostgreSQL's text format, with
//                                   backpressure, while the file is still being read.
//   embedded, owned by the command  PGlite in this process; rows go in with COPY … FROM '/dev/blob'
//                                   (PGlite's COPY source), a few MB of rows per statement.
//   embedded, through the server's  the owner socket does not carry COPY FROM STDIN (the exchange
//   owner socket                    stalls), so rows go in as batched INSERT … SELECT FROM unnest().
//
// Everything else is plain SQL on the same connection, so the import is all-or-nothing: a throw
// (or kill -9, which drops the connection / never commits) rolls everything back.
import { once } from 'node:events';
import type { BulkTransaction } from '../db/embedded-thread.js';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { BulkAccess } from '../db/client.js';

export type StagingMethod = 'COPY FROM STDIN' | 'COPY FROM /dev/blob' | 'INSERT FROM unnest';

export interface ImportSql {
  readonly method: StagingMethod;
  readonly kind: 'postgresql' | 'pglite';
  query<T = Record<string, unknown>>(text: string, params?: unknown[]): Promise<T[]>;
  /** Runs a statement; returns the rows it changed. */
  execute(text: string, params?: unknown[]): Promise<number>;
  /** Streams rows (text values, null = NULL) into `table`; `columns` are [name, SQL type]. */
  writer(table: string, columns: readonly (readonly [string, string])[]): RowWriter;
}

export interface RowWriter {
  /** Adds a row; a returned promise means "wait before the next" (backpressure). */
  row(values: readonly (string | null)[]): void | Promise<void>;
  /** Sends what is buffered and finishes the stream (errors of the COPY surface here). */
  end(): Promise<void>;
}

const SPECIAL = /[\\\t\n\r]/;
const ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };

/** One row in COPY's text format. */
function textRow(values: readonly (string | null)[]): string {
  let out = '';
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (i > 0) out += '\t';
    out += v === null ? '\\N' : SPECIAL.test(v) ? v.replace(/[\\\t\n\r]/g, (c) => ESCAPES[c]) : v;
  }
  return `${out}\n`;
}

const columnList = (columns: readonly (readonly [string, string])[]) => columns.map(([c]) => c).join(', ');

/** COPY FROM STDIN on a pg client, fed in 256 kB writes; waits for 'drain' when the socket is full. */
function copyWriter(client: pg.PoolClient, table: string, columns: readonly (readonly [string, string])[], state: { copying: number }): RowWriter {
  const stream = client.query(copyFrom(`COPY ${table} (${columnList(columns)}) FROM STDIN`));
  state.copying += 1;
  let failed: Error | undefined;
  const finished = new Promise<void>((resolve, reject) => {
    stream.on('finish', resolve);
    stream.on('error', (err: Error) => {
      failed = err;
      reject(err);
    });
  });
  finished.catch(() => {});
  let buf = '';
  return {
    row(values) {
      buf += textRow(values);
      if (buf.length < 1 << 18) return;
      if (failed) throw failed;
      const ok = stream.write(buf);
      buf = '';
      if (!ok) return once(stream, 'drain').then(() => undefined);
    },
    async end() {
      if (failed) throw failed;
      if (buf.length > 0) stream.write(buf);
      buf = '';
      stream.end();
      await finished;
      state.copying -= 1;
    },
  };
}

/** COPY FROM '/dev/blob' on PGlite: one statement per ~4 MB of rows. */
function blobWriter(tx: BulkTransaction, table: string, columns: readonly (readonly [string, string])[]): RowWriter {
  const parts: string[] = [];
  let size = 0;
  const flush = async () => {
    if (parts.length === 0) return;
    const blob = new Blob(parts);
    parts.length = 0;
    size = 0;
    await tx.query(`COPY ${table} (${columnList(columns)}) FROM '/dev/blob'`, [], { blob });
  };
  return {
    row(values) {
      const r = textRow(values);
      parts.push(r);
      size += r.length;
      if (size >= 1 << 22) return flush();
    },
    end: flush,
  };
}

/** Batched INSERT … SELECT FROM unnest($1::text[], …), for connections without COPY. */
function insertWriter(client: pg.PoolClient, table: string, columns: readonly (readonly [string, string])[], batch = 5_000): RowWriter {
  let cols: (string | null)[][] = columns.map(() => []);
  let rows = 0;
  const names = columns.map((_, i) => `c${i}`);
  const sql =
    `INSERT INTO ${table} (${columnList(columns)}) SELECT ${columns.map(([, type], i) => `u.c${i}::${type}`).join(', ')} ` +
    `FROM unnest(${columns.map((_, i) => `$${i + 1}::text[]`).join(', ')}) AS u(${names.join(', ')})`;
  const flush = async () => {
    if (rows === 0) return;
    const params = cols;
    cols = columns.map(() => []);
    rows = 0;
    await client.query(sql, params);
  };
  return {
    row(values) {
      for (let i = 0; i < values.length; i++) cols[i].push(values[i]);
      rows += 1;
      if (rows >= batch) return flush();
    },
    end: flush,
  };
}

/**
 * Runs `fn` in one transaction on the import's connection; commits when it returns, rolls back
 * when it throws. On PostgreSQL, `SET LOCAL` gives the set-based steps memory for sorts and
 * hashes (the server's, not this process's).
 */
export async function withImportTransaction<T>(
  bulk: BulkAccess,
  fn: (sql: ImportSql) => Promise<T>,
  options: { insertBatchRows?: number } = {},
): Promise<T> {
  if (bulk.kind === 'pglite') {
    return bulk.pglite.transaction(async (tx) => {
      const sql: ImportSql = {
        method: 'COPY FROM /dev/blob',
        kind: 'pglite',
        query: async <R>(text: string, params?: unknown[]) => (await tx.query<R>(text, params)).rows,
        execute: async (text, params) => (await tx.query(text, params)).affectedRows ?? 0,
        writer: (table, columns) => blobWriter(tx, table, columns),
      };
      return fn(sql);
    }) as Promise<T>;
  }
  const client = await bulk.pool.connect();
  const state = { copying: 0 };
  try {
    await client.query('BEGIN');
    if (bulk.copy) {
      await client.query(`SET LOCAL work_mem = '256MB'`);
      await client.query(`SET LOCAL maintenance_work_mem = '512MB'`);
    }
  } catch (err) {
    client.release(err as Error);
    throw err;
  }
  const sql: ImportSql = {
    method: bulk.copy ? 'COPY FROM STDIN' : 'INSERT FROM unnest',
    kind: bulk.copy ? 'postgresql' : 'pglite',
    query: async <R>(text: string, params?: unknown[]) => (await client.query(text, params)).rows as R[],
    execute: async (text, params) => (await client.query(text, params)).rowCount ?? 0,
    writer: (table, columns) => (bulk.copy ? copyWriter(client, table, columns, state) : insertWriter(client, table, columns, options.insertBatchRows)),
  };
  let result: T;
  try {
    result = await fn(sql);
  } catch (err) {
    if (state.copying > 0) {
      // A COPY is still open on the connection: drop the connection, the server rolls back.
      client.release(err as Error);
    } else {
      await client.query('ROLLBACK').then(
        () => client.release(),
        (e: Error) => client.release(e),
      );
    }
    throw err;
  }
  try {
    await client.query('COMMIT');
  } catch (err) {
    client.release(err as Error);
    throw err;
  }
  client.release();
  return result;
}
