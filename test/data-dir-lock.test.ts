// One owner per embedded data directory: the lock file, its refusal, and stale locks (a killed
// owner, a reused pid, a half-written file) that are taken over without manual cleanup.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LOCK_FILE, currentOwner, tryLockDataDir, type LockOwner } from '../src/db/data-dir-lock.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});
const tempDir = async () => {
  const d = await mkdtemp(path.join(os.tmpdir(), 'cia-lock-'));
  dirs.push(d);
  return d;
};

/** The pid of a process that has exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await new Promise((r) => child.once('exit', r));
  return child.pid!;
}

describe('data directory lock', () => {
  it('has one owner at a time; the refused one learns who owns it', async () => {
    const dir = await tempDir();
    const first = await tryLockDataDir(dir, { role: 'server', name: 'the server' });
    expect(first.acquired).toBe(true);
    const second = await tryLockDataDir(dir, { role: 'command', name: 'npm run import' });
    expect(second).toMatchObject({ acquired: false, owner: { pid: process.pid, role: 'server', name: 'the server' } });
    if (!first.acquired) return;
    await first.lock.setSocket('/somewhere/.s.PGSQL.5432');
    expect(await currentOwner(dir)).toMatchObject({ pid: process.pid, socket: '/somewhere/.s.PGSQL.5432' });
    await first.lock.release();
    expect(existsSync(path.join(dir, LOCK_FILE))).toBe(false);
    expect(await currentOwner(dir)).toBeNull();
    const third = await tryLockDataDir(dir, { role: 'command', name: 'npm run import' });
    expect(third.acquired).toBe(true);
    if (third.acquired) await third.lock.release();
  });

  it('takes over the lock of a process that is gone (kill -9), of a reused pid, and a half-written one', async () => {
    const dir = await tempDir();
    const file = path.join(dir, LOCK_FILE);
    const stale = (o: Partial<LockOwner>): LockOwner => ({
      pid: 1,
      processStart: null,
      hostname: os.hostname(),
      role: 'server',
      name: 'the server',
      startedAt: '2026-01-01T00:00:00.000Z',
      ...o,
    });
    for (const content of [
      JSON.stringify(stale({ pid: await deadPid() })),
      // our own pid, but a process started at another time: the pid was reused
      JSON.stringify(stale({ pid: process.pid, processStart: '1' })),
      '{"pid": 12',
    ]) {
      await writeFile(file, content);
      if (!content.endsWith('}')) {
        // a young unparsable lock is being written by its owner right now: not stale yet
        expect(await currentOwner(dir)).not.toBeNull();
        const old = new Date(Date.now() - 60_000);
        await utimes(file, old, old);
      }
      expect(await currentOwner(dir)).toBeNull();
      const attempt = await tryLockDataDir(dir, { role: 'command', name: 'npm run score' });
      expect(attempt.acquired).toBe(true);
      expect(JSON.parse(await readFile(file, 'utf8'))).toMatchObject({ pid: process.pid, name: 'npm run score' });
      if (attempt.acquired) await attempt.lock.release();
    }
  });
});
