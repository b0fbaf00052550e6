// Import at scale: `npm run import` of a demo CSV export (customers + orders) into a throwaway
// PostgreSQL database and into a fresh embedded data directory, timed with /usr/bin/time -v.
//
//   npx tsx bench/import.ts                       # 1,000,000 customers (~5.8M orders) on PostgreSQL; writes section 5c of RESULTS.md
//   npx tsx bench/import.ts --pglite-customers 100000   # … and the embedded database at that size (0 = skip)
//   options: --customers N (0: skip PostgreSQL), --reimport (time a second, idempotent import of the same files), --no-write
//
// `npm run bench -- --scale` runs it too (bench/run.ts). The files go to a temporary directory and
// are deleted afterwards; so are the database and the data directory.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { samplePostgresCpu } from './cpu.js';

const ROOT = path.resolve(import.meta.dirname, '..');
export const IMPORT_START = '<!-- import:start -->';
export const IMPORT_END = '<!-- import:end -->';
const SEED = 42;
const ANCHOR = '2026-01-01';

const say = (msg: string) => process.stderr.write(`[bench:import ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
const int = (x: number) => Math.round(x).toLocaleString('en-US');
const load = () => os.loadavg()[0];

interface Timed {
  code: number | null;
  text: string;
  wall: number;
  loadStart: number;
  loadMax: number;
}

/** Runs a command under /usr/bin/time -v, sampling the 1-minute load average every 5 s. */
function timed(args: string[], env: NodeJS.ProcessEnv): Promise<Timed> {
  return new Promise((resolve, reject) => {
    const loadStart = load();
    let loadMax = loadStart;
    const sampler = setInterval(() => (loadMax = Math.max(loadMax, load())), 5_000);
    const started = performance.now();
    const child = spawn('/usr/bin/time', ['-v', ...args], { cwd: ROOT, env: { ...process.env, LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => out.push(c));
    child.once('error', reject);
    child.once('close', (code) => {
      clearInterval(sampler);
      loadMax = Math.max(loadMax, load());
      resolve({ code, text: Buffer.concat(out).toString('utf8'), wall: (performance.now() - started) / 1000, loadStart, loadMax });
    });
  });
}

export interface ImportRun {
  target: string;
  ok: boolean;
  seconds?: number;
  wall: number;
  rssMb?: number;
  cpuSeconds?: number;
  /** CPU seconds of the PostgreSQL backends serving the import's database (sampled from /proc). */
  pgCpuSeconds?: number;
  /** Data rows of both files (customers + order lines). */
  rows?: number;
  steps?: string;
  summary: string;
  loadStart: number;
  loadMax: number;
}

async function importOnce(
  target: string,
  files: { customers: string; orders: string; rows?: number },
  env: NodeJS.ProcessEnv,
  postgres?: { adminUrl: string; database: string },
): Promise<ImportRun> {
  const sampler = postgres ? samplePostgresCpu(postgres.adminUrl, postgres.database) : undefined;
  const r = await timed([process.execPath, '--import', 'tsx', 'src/ingest/cli.ts', '--orders', files.orders, '--customers', files.customers], env);
  const pgCpuSeconds = await sampler?.stop();
  const num = (re: RegExp) => {
    const m = r.text.match(re);
    return m ? Number(m[1]) : undefined;
  };
  const rss = num(/Maximum resident set size \(kbytes\): (\d+)/);
  const user = num(/User time \(seconds\): ([\d.]+)/);
  const sys = num(/System time \(seconds\): ([\d.]+)/);
  const lines = r.text.split('\n');
  return {
    target,
    ok: r.code === 0,
    seconds: num(/^Imported: .* in ([\d.]+) s$/m),
    wall: r.wall,
    rssMb: rss === undefined ? undefined : rss / 1024,
    cpuSeconds: user === undefined || sys === undefined ? undefined : user + sys,
    pgCpuSeconds,
    rows: files.rows,
    steps: lines.find((l) => l.trim().startsWith('steps:'))?.trim().replace(/^steps:\s+/, ''),
    summary: r.code === 0 ? lines.filter((l) => /^ {2}(rows read|customers|orders):/.test(l)).map((l) => l.trim().replace(/\s+/g, ' ')).join(' / ') : lines.filter((l) => l && !/^\s/.test(l)).slice(-6).join(' | ').slice(0, 600),
    loadStart: r.loadStart,
    loadMax: r.loadMax,
  };
}

async function exportCsv(dir: string, customers: number): Promise<{ customers: string; orders: string; orderCount: number; rows: number; mb: number }> {
  const r = await timed([process.execPath, '--import', 'tsx', 'src/demo/cli.ts', 'export', '--customers', String(customers), '--seed', String(SEED), '--anchor', ANCHOR, '--out', dir], {});
  if (r.code !== 0) throw new Error(`demo:export failed: ${r.text.slice(-500)}`);
  const orders = Number(r.text.match(/and (\d+) orders/)?.[1] ?? NaN);
  const files = { customers: path.join(dir, 'customers.csv'), orders: path.join(dir, 'orders.csv') };
  const mb = ((await stat(files.customers)).size + (await stat(files.orders)).size) / 2 ** 20;
  return { ...files, orderCount: orders, rows: customers + orders, mb };
}

/** Runs the import benchmark; returns the Markdown of RESULTS.md's section 5c. */
export async function importBench(options: { customers: number; pgliteCustomers: number; adminUrl: string; reimport?: boolean }): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'cia-bench-import-'));
  const runs: ImportRun[] = [];
  let sizes = '';
  try {
    let big: Awaited<ReturnType<typeof exportCsv>> | undefined;
    if (options.customers > 0) {
      say(`exporting ${int(options.customers)} demo customers as CSV`);
      big = await exportCsv(path.join(dir, 'big'), options.customers);
      sizes = `${int(options.customers)} customers and ${int(big.orderCount)} orders (${big.mb.toFixed(0)} MB of CSV)`;
      const name = `bench_import_${Date.now().toString(36)}_${process.pid}`;
      const admin = new pg.Client({ connectionString: options.adminUrl });
      await admin.connect();
      await admin.query(`CREATE DATABASE ${name}`);
      const u = new URL(options.adminUrl);
      u.pathname = `/${name}`;
      try {
        say(`importing into PostgreSQL (${name})`);
        const postgres = { adminUrl: options.adminUrl, database: name };
        runs.push(await importOnce(`PostgreSQL, ${int(options.customers)} customers`, big, { DATABASE_URL: u.toString() }, postgres));
        say(`→ ${runs.at(-1)!.ok ? `${runs.at(-1)!.seconds} s` : runs.at(-1)!.summary}`);
        if (options.reimport) {
          say('importing the same files again (idempotent: nothing to add)');
          runs.push(await importOnce(`PostgreSQL, the same files again`, big, { DATABASE_URL: u.toString() }, postgres));
        }
      } finally {
        await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => {});
        await admin.end();
      }
    }
    if (options.pgliteCustomers > 0) {
      const small = big && options.pgliteCustomers === options.customers ? big : await exportCsv(path.join(dir, 'small'), options.pgliteCustomers);
      say(`importing ${int(options.pgliteCustomers)} customers into a fresh embedded data directory`);
      runs.push(await importOnce(`embedded PGlite, ${int(options.pgliteCustomers)} customers (${int(small.orderCount)} orders)`, small, { DATABASE_URL: '', DATA_DIR: path.join(dir, 'data') }));
      say(`→ ${runs.at(-1)!.ok ? `${runs.at(-1)!.seconds} s` : runs.at(-1)!.summary}`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const perRow = (r: ImportRun) =>
    r.rows && r.cpuSeconds !== undefined && r.pgCpuSeconds !== undefined ? (((r.cpuSeconds + r.pgCpuSeconds) * 1e6) / r.rows).toFixed(1) : '–';
  const rows = runs.map(
    (r) =>
      `| ${r.target} | ${r.ok ? (r.seconds ?? r.wall).toFixed(1) : 'failed'} | ${r.wall.toFixed(1)} | ${r.rssMb?.toFixed(0) ?? '?'} | ${r.cpuSeconds?.toFixed(1) ?? '?'} | ${r.pgCpuSeconds?.toFixed(1) ?? '–'} | ${perRow(r)} | ${r.loadStart.toFixed(1)} / ${r.loadMax.toFixed(1)} | ${r.steps ?? ''} |`,
  );
  return [
    `Measured ${new Date().toISOString().slice(0, 10)} with \`npx tsx bench/import.ts\` (also run by \`npm run bench -- --scale\`): \`npm run demo:export -- --customers N --seed ${SEED} --anchor ${ANCHOR}\`, then \`/usr/bin/time -v npm run import -- --orders orders.csv --customers customers.csv\` into a throwaway database. PostgreSQL file: ${sizes}.`,
    '',
    '| target | import s (as printed) | wall s (incl. start-up, migrations) | peak RSS MB | CPU s of the importer (user + sys) | PostgreSQL CPU s (its backends) | CPU µs per row (importer + PostgreSQL; rows = customers + order lines) | load average at start / max |  steps as printed |',
    '|---|---:|---:|---:|---:|---:|---:|---|---|',
    ...rows,
    '',
    '',
    'The set-based steps after the files are read (checks, merges, index rebuilds) are one PostgreSQL backend\'s work, one core; the reading overlaps the importer with the backend\'s COPY. The embedded database runs inside the importer (no PostgreSQL column).',
    '',
    ...runs.map((r) => `- ${r.target}: ${r.summary}`),
  ].join('\n');
}

/** Puts `text` between the import markers of RESULTS.md (appending the section when absent). */
export function withImportSection(doc: string, text: string): string {
  const block = `${IMPORT_START}\n${text}\n${IMPORT_END}`;
  const i = doc.indexOf(IMPORT_START);
  const j = doc.indexOf(IMPORT_END);
  if (i >= 0 && j > i) return doc.slice(0, i) + block + doc.slice(j + IMPORT_END.length);
  return `${doc.trimEnd()}\n\n## 5c. Import at scale (\`npm run import\`, opt-in)\n\n${block}\n`;
}

/** The section as it stands in a RESULTS.md (for bench/run.ts, which rewrites the file). */
export function importSection(doc: string): string | undefined {
  const i = doc.indexOf(IMPORT_START);
  const j = doc.indexOf(IMPORT_END);
  return i >= 0 && j > i ? doc.slice(i + IMPORT_START.length, j).trim() : undefined;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: {
      customers: { type: 'string', default: '1000000' },
      'pglite-customers': { type: 'string', default: '0' },
      reimport: { type: 'boolean', default: false },
      'admin-url': { type: 'string', default: process.env.BENCH_POSTGRES_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres' },
      'no-write': { type: 'boolean', default: false },
    },
  });
  const text = await importBench({
    customers: Number(values.customers),
    pgliteCustomers: Number(values['pglite-customers']),
    adminUrl: values['admin-url'],
    reimport: values.reimport,
  });
  console.log(text);
  if (!values['no-write']) {
    const file = path.join(ROOT, 'bench/RESULTS.md');
    writeFileSync(file, withImportSection(existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmark results\n', text));
    say('wrote bench/RESULTS.md');
  }
}
