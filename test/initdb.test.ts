// A new embedded data directory is made aside and moved in complete (PG_VERSION last), from the
// template made at install (or by a first start): a start killed midway leaves nothing that the
// next start fails to open, and files that are not the database's (the lock) are left alone.
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { afterAll, describe, expect, it } from 'vitest';
import { initializeDataDir, isInitialized, prepareTemplate } from '../src/db/initdb.js';

let scratch: string | undefined;
afterAll(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

describe('initialising an embedded data directory', () => {
  it('repairs a directory whose initialisation was cut short, keeps other files, and opens', { timeout: 600_000 }, async () => {
    await prepareTemplate();
    scratch = await mkdtemp(path.join(os.tmpdir(), 'cia-initdb-'));
    const dataDir = path.join(scratch, 'db');
    // What a kill during the move leaves: some database folders, no PG_VERSION; and a kill during
    // the copy leaves the temporary sibling.
    await mkdir(path.join(dataDir, 'base/1'), { recursive: true });
    await writeFile(path.join(dataDir, 'base/1/garbage'), 'half');
    await writeFile(path.join(dataDir, 'cia-owner.json'), '{"kept":true}');
    await mkdir(path.join(scratch, 'db.initdb-99999'));
    expect(isInitialized(dataDir)).toBe(false);

    expect(await initializeDataDir(dataDir)).toBe(true);
    expect(isInitialized(dataDir)).toBe(true);
    expect(existsSync(path.join(dataDir, 'base/1/garbage'))).toBe(false);
    expect(await readFile(path.join(dataDir, 'cia-owner.json'), 'utf8')).toBe('{"kept":true}');
    expect((await readdir(scratch)).filter((e) => e.includes('.initdb-'))).toEqual([]);
    expect(await initializeDataDir(dataDir)).toBe(false); // already a database: untouched

    const db = await PGlite.create(dataDir);
    try {
      expect((await db.query<{ n: number }>('SELECT 1 AS n')).rows).toEqual([{ n: 1 }]);
    } finally {
      await db.close();
    }
  });
});
