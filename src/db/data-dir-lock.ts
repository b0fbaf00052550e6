// One owner per embedded data directory. PGlite is a single process's database: two processes
// writing one directory lose data or corrupt it (issue 10). The owner holds an exclusive lock file,
// `<DATA_DIR>/cia-owner.json`, created with O_EXCL and naming the owning process; a server also
// records there the unix socket on which it serves the database to the other processes.
//
// The lock is stale when its process is gone (kill -9, a crash, a reboot): the pid is not alive, or
// it is alive but started at another time (the pid was reused). A stale lock is taken over, so a
// crash never needs manual cleanup.
import { readFileSync, unlinkSync } from 'node:fs';
import { open, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

export const LOCK_FILE = 'cia-owner.json';

export interface LockOwner {
  pid: number;
  /** Start time of the process in clock ticks since boot (Linux /proc), to tell a reused pid apart. */
  processStart: string | null;
  hostname: string;
  /** `server` serves the database on `socket`; `command` uses it alone for its run. */
  role: 'server' | 'command';
  /** What the process is, for the refusal message: `npm start`, `npm run import`… */
  name: string;
  startedAt: string;
  /** Unix socket path (PostgreSQL wire protocol) of a server owner, once it listens. */
  socket?: string;
}

/** The data directory belongs to another live process. */
export class DataDirInUseError extends Error {
  override name = 'DataDirInUseError';
  constructor(
    readonly dataDir: string,
    readonly owner: LockOwner,
    advice: string,
  ) {
    super(
      `DATA_DIR ${dataDir} is in use by ${owner.name} (pid ${owner.pid}, since ${owner.startedAt}). ` +
        `The embedded database has one owner process. ${advice}`,
    );
  }
}

function processStartOf(pid: number): string | null {
  try {
    // /proc/<pid>/stat: "pid (comm) state … starttime" — field 22, counted after the last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

function isAlive(owner: LockOwner): boolean {
  if (owner.pid === WRITING) return true;
  if (owner.pid <= 0) return false;
  if (owner.hostname !== os.hostname()) return true; // another machine's process: cannot tell, assume alive
  try {
    process.kill(owner.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  if (owner.processStart === null) return true;
  const now = processStartOf(owner.pid);
  return now === null || now === owner.processStart;
}

/** pid of a lock file that does not parse: being written right now (young), else stale. */
const WRITING = -2;
const HALF_WRITTEN = -1;

async function readOwnerFile(file: string): Promise<LockOwner | null> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as LockOwner;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    // Its owner may be between creating and writing it; older than a few seconds, it died there.
    const age = await stat(file).then((s) => Date.now() - s.mtimeMs, () => Infinity);
    const pid = age < 5_000 ? WRITING : HALF_WRITTEN;
    return { pid, processStart: null, hostname: os.hostname(), role: 'command', name: 'a process that is starting', startedAt: new Date().toISOString() };
  }
}

/** The live owner of the data directory, or null when there is none (no lock, or a stale one). */
export async function currentOwner(dataDir: string): Promise<LockOwner | null> {
  const owner = await readOwnerFile(path.join(dataDir, LOCK_FILE));
  return owner && isAlive(owner) ? owner : null;
}

export interface DataDirLock {
  readonly dataDir: string;
  readonly owner: LockOwner;
  /** Records the socket a server serves the database on (read by commands). */
  setSocket(socket: string): Promise<void>;
  release(): Promise<void>;
}

export type LockAttempt = { acquired: true; lock: DataDirLock } | { acquired: false; owner: LockOwner };

/** Takes the lock, or reports the live owner. A stale lock is removed and taken over. */
export async function tryLockDataDir(dataDir: string, who: { role: 'server' | 'command'; name: string }): Promise<LockAttempt> {
  const file = path.join(dataDir, LOCK_FILE);
  const owner: LockOwner = {
    pid: process.pid,
    processStart: processStartOf(process.pid),
    hostname: os.hostname(),
    role: who.role,
    name: who.name,
    startedAt: new Date().toISOString(),
  };
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      const handle = await open(file, 'wx');
      try {
        await handle.writeFile(JSON.stringify(owner, null, 2) + '\n');
        await handle.sync();
      } finally {
        await handle.close();
      }
      return { acquired: true, lock: makeLock(dataDir, file, owner) };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const existing = await readOwnerFile(file);
    if (existing === null) continue; // released meanwhile: try again
    if (isAlive(existing)) return { acquired: false, owner: existing };
    // Stale: move it aside atomically (only one contender's rename succeeds), then retry the create.
    const aside = `${file}.stale-${process.pid}-${attempt}`;
    await rename(file, aside).then(
      () => unlink(aside).catch(() => {}),
      () => {},
    );
  }
  const last = await readOwnerFile(file);
  if (last) return { acquired: false, owner: last };
  throw new Error(`Could not take the lock ${file}`);
}

function makeLock(dataDir: string, file: string, owner: LockOwner): DataDirLock {
  let released = false;
  const onExit = () => {
    // Last resort on a normal exit path (process.exit without release): remove our own lock.
    try {
      const raw = readFileSync(file, 'utf8');
      if ((JSON.parse(raw) as LockOwner).pid === process.pid) unlinkSync(file);
    } catch {
      // not ours, or gone
    }
  };
  process.once('exit', onExit);
  return {
    dataDir,
    owner,
    async setSocket(socket) {
      owner.socket = socket;
      // Write a new file and rename it over the lock: readers never see a half-written lock.
      const tmp = `${file}.${process.pid}.tmp`;
      await writeFile(tmp, JSON.stringify(owner, null, 2) + '\n');
      await rename(tmp, file);
    },
    async release() {
      if (released) return;
      released = true;
      process.removeListener('exit', onExit);
      const current = await readOwnerFile(file);
      if (current?.pid === process.pid) await unlink(file).catch(() => {});
    },
  };
}
