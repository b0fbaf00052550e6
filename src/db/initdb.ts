// First start of the embedded database: PGlite runs initdb (WebAssembly) the first time a directory
// is opened. That is ~4 s of CPU on a quiet machine and was the 21 s gap between "model loaded" and
// "database opened" on a busy one (issue 10). initdb's result depends only on the PGlite version,
// so it is made once — at `npm install` (postinstall: `tsx src/db/cli.ts template`), or else by the
// first start — into a template under node_modules/.cache, and a new data directory is a copy of it
// (~0.5 s). Without a template, initdb runs in a worker thread, overlapping with model loading.
// Either way the files are made in a temporary sibling directory and moved in afterwards
// (PG_VERSION last): a process killed meanwhile leaves no half-made database that the next start
// would fail to open.
import { existsSync } from 'node:fs';
import { cp, mkdir, readFile, readdir, rename, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
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

const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Where the initialised, empty database of this PGlite version is kept. */
export async function templateDir(): Promise<string> {
  // The package does not export its package.json; it is two levels above the entry (dist/index).
  const pkg = JSON.parse(await readFile(path.join(path.dirname(require.resolve('@electric-sql/pglite')), '..', 'package.json'), 'utf8'));
  return path.join(projectRoot, 'node_modules/.cache/cia-pglite', `pglite-${pkg.version}`);
}

/** Runs PGlite's initdb for `dir` in a worker thread. */
function initdbInWorker(dir: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const worker = new Worker(workerSource, {
      eval: true,
      workerData: { dir, pglite: pathToFileURL(require.resolve('@electric-sql/pglite')).href },
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
}

/** Makes the template unless it exists; true when it was made now. */
export async function prepareTemplate(): Promise<boolean> {
  const template = await templateDir();
  if (isInitialized(template)) return false;
  await mkdir(path.dirname(template), { recursive: true });
  const tmp = `${template}.tmp-${process.pid}`;
  try {
    await initdbInWorker(tmp);
    await publishTemplate(tmp, template);
    return true;
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/** Moves a fresh database directory into place as the template (a rename: all or nothing). */
async function publishTemplate(fresh: string, template: string) {
  await rename(fresh, template).catch(async (err: NodeJS.ErrnoException) => {
    // Another process published it first (ENOTEMPTY/EEXIST): theirs is as good as ours.
    if (!isInitialized(template)) throw err;
  });
}

/** Creates the database files in `dataDir` (which may hold other files, e.g. the lock) unless present. */
export async function initializeDataDir(dataDir: string): Promise<boolean> {
  if (isInitialized(dataDir)) return false;
  await mkdir(dataDir, { recursive: true });
  const parent = path.dirname(dataDir);
  const base = path.basename(dataDir);
  // Leftovers of an initialisation that was killed.
  for (const entry of await readdir(parent)) {
    if (entry.startsWith(`${base}.initdb-`)) await rm(path.join(parent, entry), { recursive: true, force: true });
  }
  const tmp = path.join(parent, `${base}.initdb-${process.pid}`);
  try {
    const template = await templateDir();
    if (isInitialized(template)) {
      await cp(template, tmp, { recursive: true });
    } else {
      await initdbInWorker(tmp);
      // Keep a copy as the template, so the next new directory is a copy (best effort).
      const copy = `${template}.tmp-${process.pid}`;
      await mkdir(path.dirname(template), { recursive: true })
        .then(() => cp(tmp, copy, { recursive: true }))
        .then(() => publishTemplate(copy, template))
        .catch(() => {})
        .finally(() => rm(copy, { recursive: true, force: true }));
    }
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
