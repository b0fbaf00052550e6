// First start of the embedded database: PGlite runs initdb (WebAssembly) the first time a directory
// is opened. That is ~4 s of CPU on a quiet machine and was the 21 s gap between "model loaded" and
// "database opened" on a busy one (issue 10). It runs here in a worker thread, so it overlaps with
// loading the models on the main thread, and into a temporary sibling directory whose files are
// moved in afterwards (PG_VERSION last): a process killed during initdb leaves no half-made
// database that the next start would fail to open.
import { existsSync } from 'node:fs';
import { mkdir, readdir, rename, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';

const require = createRequire(import.meta.url);

const workerSource = `
const { workerData, parentPort } = require('node:worker_threads');
import(workerData.pglite).then(async ({ PGlite }) => {
  const db = await PGlite.create(workerData.dir);
  await db.close();
  parentPort.postMessage('done');
}).catch((err) => { parentPort.postMessage({ error: String(err && err.stack || err) }); });
`;

/** True when `dataDir` already holds a database. */
export function isInitialized(dataDir: string): boolean {
  return existsSync(path.join(dataDir, 'PG_VERSION'));
}

/** Creates the database files in `dataDir` (which may hold other files, e.g. the lock) unless present. */
export async function initializeDataDir(dataDir: string): Promise<boolean> {
  if (isInitialized(dataDir)) return false;
  await mkdir(dataDir, { recursive: true });
  const parent = path.dirname(dataDir);
  const base = path.basename(dataDir);
  // Leftovers of an initdb that was killed.
  for (const entry of await readdir(parent)) {
    if (entry.startsWith(`${base}.initdb-`)) await rm(path.join(parent, entry), { recursive: true, force: true });
  }
  const tmp = path.join(parent, `${base}.initdb-${process.pid}`);
  try {
    await new Promise<void>((resolve, reject) => {
      const worker = new Worker(workerSource, {
        eval: true,
        workerData: { dir: tmp, pglite: pathToFileURL(require.resolve('@electric-sql/pglite')).href },
        // The parent's loader (tsx) is not needed for this plain script.
        execArgv: [],
      });
      worker.once('message', (msg: 'done' | { error: string }) => {
        if (msg === 'done') resolve();
        else reject(new Error(`initializing the embedded database failed: ${msg.error}`));
      });
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`initializing the embedded database: worker exited (${code})`)));
    });
    const entries = (await readdir(tmp)).filter((e) => e !== 'PG_VERSION');
    for (const entry of entries) {
      // Without PG_VERSION there is no database here: what has the name of a database file is the
      // remains of a move that was cut short. Nothing else in the directory is touched.
      await rm(path.join(dataDir, entry), { recursive: true, force: true });
      await rename(path.join(tmp, entry), path.join(dataDir, entry));
    }
    await rename(path.join(tmp, 'PG_VERSION'), path.join(dataDir, 'PG_VERSION'));
    return true;
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
