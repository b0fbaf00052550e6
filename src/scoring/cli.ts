// `npm run score -- [--model NAME] [--as-of ISO] [--page-size N] [--restart] [--max-pages N] [--progress] [--workers N]`
// Scores every customer into "CustomerScore" (see batch.ts and the README's "Batch scoring"); with
// --workers, as id-range jobs on the BullMQ queue in REDIS_URL (distributed.ts).
// Exit codes: 0 finished (or nothing to do), 1 failed, 2 usage error (bad option, unknown model),
// 3 interrupted (Ctrl-C / SIGTERM / --max-pages): re-run the same command to resume.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { loadConfig, type Config } from '../config.js';
import { commandDatabase, openDatabase, type Database } from '../db/client.js';
import { applyMigrations } from '../db/migrate.js';
import { UnknownModelError } from '../inference/service.js';
import { DEFAULT_SCORE_PAGE_SIZE, describeTimings, MAX_SCORE_PAGE_SIZE, ScoreOptionsError, scoreCustomers } from './batch.js';
import { outOfScoringRange, parseScoringTime, SCORING_TIME_RANGE, scoringTimeFormat } from './as-of.js';
import { lastPaidOrderAt } from '../models/lifecycle.js';
import { readPromotions } from '../models/promotions.js';
import { BATCH_SCORING_SETUP, createScoring } from './setup.js';
import { interruptRun, openQueue, queueSettings, SCORE_QUEUE, startDistributedRun, waitForRun } from './distributed.js';
import type { Scoring } from './scoring.js';

const USAGE = `Usage: npm run score -- [--model NAME] [--as-of ISO] [--page-size N] [--restart] [--max-pages N] [--progress] [--workers N]
  --model NAME     model to score with (default: DEFAULT_MODEL)
  --as-of ISO      scoring time: a date-time (2026-06-30T12:00:00Z) or a date (2026-06-30 = the end of that UTC day)
                   (default: SCORING_AS_OF, else the end of today, UTC)
  --page-size N    customers per page and transaction, 1–${MAX_SCORE_PAGE_SIZE} (default ${DEFAULT_SCORE_PAGE_SIZE})
  --restart        start over instead of resuming an unfinished (or re-running a finished) run
  --max-pages N    stop after N ≥ 1 pages (resumable), e.g. to score in slices
  --progress       progress lines on stderr even when it is not a terminal
  --workers N      split the run into id-range jobs on the BullMQ queue in REDIS_URL (needs DATABASE_URL),
                   start N local \`npm run score:worker\` processes (0: only the workers already running
                   anywhere with the same DATABASE_URL and REDIS_URL) and wait for the run to finish`;

class UsageError extends Error {}

const EXIT_INTERRUPTED = 3;

function positiveInt(name: string, value: string | undefined, fallback: number | undefined, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value) || Number(value) > max) throw new UsageError(`--${name} must be an integer from 0 to ${max} (got ${JSON.stringify(value)})`);
  return Number(value);
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const mb = (n: number) => `${Math.round(n / 2 ** 20)} MB`;

function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  if (seconds < 60) return `${Math.ceil(seconds)} s`;
  const m = Math.floor(seconds / 60);
  return m < 60 ? `${m} min ${Math.round(seconds % 60)} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      model: { type: 'string' },
      'as-of': { type: 'string' },
      'page-size': { type: 'string' },
      'max-pages': { type: 'string' },
      restart: { type: 'boolean' },
      progress: { type: 'boolean' },
      workers: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const pageSize = positiveInt('page-size', values['page-size'], DEFAULT_SCORE_PAGE_SIZE, MAX_SCORE_PAGE_SIZE)!;
  if (pageSize < 1) throw new UsageError('--page-size must be at least 1');
  const maxPages = positiveInt('max-pages', values['max-pages'], undefined);
  // Zero pages would start a run, score nothing and leave it "interrupted": a mistake, not a request.
  if (maxPages === 0) throw new UsageError('--max-pages must be at least 1 (omit it to score every page)');
  const workers = positiveInt('workers', values.workers, undefined, 64);
  if (workers !== undefined && maxPages !== undefined) throw new UsageError('--max-pages applies to a run in one process, not with --workers');
  let asOf: Date | undefined;
  if (values['as-of'] !== undefined) {
    asOf = parseScoringTime(values['as-of']) ?? undefined;
    if (!asOf) throw new UsageError(`--as-of must be ${scoringTimeFormat} (got ${JSON.stringify(values['as-of'])})`);
    if (outOfScoringRange(asOf)) throw new UsageError(`--as-of must be ${SCORING_TIME_RANGE}, as the API's asOf (got ${JSON.stringify(values['as-of'])})`);
  }

  const cfg = loadConfig();
  if (workers !== undefined && !cfg.REDIS_URL) throw new UsageError('--workers needs REDIS_URL (the BullMQ queue the workers take jobs from)');
  if (workers !== undefined && !cfg.DATABASE_URL) {
    throw new UsageError('--workers needs DATABASE_URL (PostgreSQL): workers on other machines cannot reach the embedded database');
  }
  // Models log at info when loaded; the command's own output is enough unless asked for more.
  const log = pino({ level: cfg.LOG_LEVEL === 'info' ? 'warn' : cfg.LOG_LEVEL }, pino.destination(2));
  const db = await openDatabase(commandDatabase(cfg, 'npm run score', 3));
  const scoring = await createScoring(cfg, log, undefined, BATCH_SCORING_SETUP).catch(async (err: unknown) => {
    await db.close();
    throw err;
  });
  const controller = new AbortController();
  const stop = (signal: string) => {
    if (controller.signal.aborted) process.exit(130); // second Ctrl-C: leave now (the page in flight is rolled back)
    process.stderr.write(`\n${signal}: stopping after the page in progress (run again to resume; again to quit now)\n`);
    controller.abort();
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));

  const showProgress = Boolean(values.progress) || Boolean(process.stderr.isTTY);
  let peakRss = process.memoryUsage().rss;
  let lastPrint = 0;
  try {
    try {
      scoring.model(values.model ?? null);
    } catch (err) {
      if (err instanceof UnknownModelError) throw new UsageError(`--model: ${err.message}`);
      throw err;
    }
    await applyMigrations(db.adapterFactory);
    // Score with the version the servers serve: the promotions on record decide it.
    scoring.inference.registry.applyPromotions(await readPromotions(db));
    if (cfg.SCORING_AS_OF === 'data-end' && !asOf) asOf = (await lastPaidOrderAt(db)) ?? undefined;
    if (workers !== undefined) {
      return await runWithWorkers(db, scoring, cfg, { workers, model: values.model, asOf, pageSize, restart: values.restart, showProgress, signal: controller.signal });
    }
    const summary = await scoreCustomers(db, scoring, {
      model: values.model,
      asOf,
      pageSize,
      restart: values.restart,
      maxPages,
      signal: controller.signal,
      onStart: (s) => {
        const what = `${s.model} ${s.modelVersion} as of ${s.asOf.toISOString()}`;
        process.stderr.write(
          s.resumed
            ? `Resuming run ${s.runId} (${what}): ${fmt(s.alreadyScored)} customers already scored, ${fmt(s.customersRemaining)} of ${fmt(s.customersTotal)} left.\n`
            : `Run ${s.runId}: scoring ${fmt(s.customersTotal)} customers with ${what}, ${fmt(pageSize)} per page (${db.kind}).\n`,
        );
      },
      onProgress: (p) => {
        peakRss = Math.max(peakRss, process.memoryUsage().rss);
        const now = performance.now();
        if (!showProgress || now - lastPrint < 1000) return;
        lastPrint = now;
        const eta = p.rate > 0 ? (p.remaining - p.scored) / p.rate : Infinity;
        const line = `${fmt(p.scored)} / ${fmt(p.remaining)} customers (${((100 * p.scored) / Math.max(1, p.remaining)).toFixed(1)}%), ${fmt(p.rate)}/s, ETA ${duration(eta)}, RSS ${mb(process.memoryUsage().rss)}`;
        process.stderr.write(process.stderr.isTTY ? `\r${line}   ` : `${line}\n`);
      },
    });
    if (showProgress && process.stderr.isTTY && lastPrint > 0) process.stderr.write('\n');
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
    const what = `run ${summary.runId}, ${summary.model} ${summary.modelVersion} as of ${summary.asOf.toISOString()}`;
    if (summary.outcome === 'alreadyFinished') {
      console.log(`Nothing to do: ${what} already finished (${fmt(summary.runScored)} customers). Use --restart to score again.`);
      return 0;
    }
    console.log(
      `${summary.outcome === 'finished' ? 'Scored' : 'Interrupted after'} ${fmt(summary.scored)} customers (${what}${summary.resumed ? ', resumed' : ''}; ` +
        `${fmt(summary.runScored)} in the run) in ${summary.seconds.toFixed(1)} s: ${fmt(summary.rate)} customers/s, ${summary.pages} pages` +
        ` (${summary.pipelined ? 'pipelined, ' : ''}${summary.writer === 'copy' ? `COPY: ${fmt(summary.directPages)} pages straight in, ${fmt(summary.pages - summary.directPages)} merged` : 'unnest upsert'})` +
        `; ${describeTimings(summary.timings, summary.seconds)}; peak RSS ${mb(peakRss)}.`,
    );
    if (summary.outcome === 'interrupted') {
      console.log('Run the same command again to resume.');
      return EXIT_INTERRUPTED;
    }
    return 0;
  } finally {
    await scoring.close();
    await db.close();
  }
}

/** `--workers N`: enqueue the run's ranges, start N local workers, show progress until the run is finished. */
async function runWithWorkers(
  db: Database,
  scoring: Scoring,
  cfg: Config,
  o: { workers: number; model?: string; asOf?: Date; pageSize: number; restart?: boolean; showProgress: boolean; signal: AbortSignal },
): Promise<number> {
  const settings = queueSettings(cfg);
  const queue = openQueue(settings);
  const children: ChildProcess[] = [];
  try {
    const start = await startDistributedRun(db, scoring, queue, settings, { model: o.model, asOf: o.asOf, pageSize: o.pageSize, restart: o.restart });
    const what = `run ${start.runId}, ${start.model} ${start.modelVersion} as of ${start.asOf.toISOString()}`;
    if (start.alreadyFinished) {
      console.log(`Nothing to do: ${what} already finished (${fmt(start.alreadyScored)} customers). Use --restart to score again.`);
      return 0;
    }
    process.stderr.write(
      `${start.resumed ? 'Resuming' : 'Run'} ${start.runId} (${start.model} ${start.modelVersion} as of ${start.asOf.toISOString()}): ` +
        `${fmt(start.customersTotal)} customers in ${start.ranges} id ranges, ${start.jobs} jobs queued on ${settings.prefix}:${SCORE_QUEUE}` +
        `${start.resumed ? ` (${fmt(start.alreadyScored)} already scored)` : ''}; ${o.workers} local worker${o.workers === 1 ? '' : 's'}` +
        `${o.workers === 0 ? ' (waiting for `npm run score:worker` processes)' : ''}.\n`,
    );
    // Local workers: this same program's worker entry point, with this environment.
    const workerScript = fileURLToPath(new URL('./worker-cli.ts', import.meta.url));
    for (let i = 0; i < o.workers; i++) {
      const child = spawn(process.execPath, [...process.execArgv, workerScript], {
        env: { ...process.env, LOG_LEVEL: cfg.LOG_LEVEL === 'info' ? 'warn' : cfg.LOG_LEVEL },
        stdio: ['ignore', 'inherit', 'inherit'],
      });
      children.push(child);
    }
    const started = performance.now();
    let lastPrint = 0;
    let peakRss = process.memoryUsage().rss;
    const exited = () => children.filter((c) => c.exitCode !== null || c.signalCode !== null);
    const state = await waitForRun(db, queue, start.runId, {
      signal: o.signal,
      onProgress: (s) => {
        peakRss = Math.max(peakRss, process.memoryUsage().rss);
        const now = performance.now();
        if (!o.showProgress || (now - lastPrint < 1000 && s.status !== 'finished')) return;
        lastPrint = now;
        const done = s.customersScored - start.alreadyScored;
        const rate = done / ((now - started) / 1000);
        const left = Math.max(0, start.customersTotal - s.customersScored);
        const pct = (100 * s.customersScored) / Math.max(1, start.customersTotal);
        const width = 24;
        const filled = Math.min(width, Math.round((pct / 100) * width));
        const line = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${fmt(s.customersScored)} / ${fmt(start.customersTotal)} customers (${pct.toFixed(1)}%), ranges ${s.rangesDone}/${s.ranges}, ${fmt(rate)}/s, ETA ${duration(rate > 0 ? left / rate : Infinity)}`;
        process.stderr.write(process.stderr.isTTY ? `\r${line}   ` : `${line}\n`);
      },
      check: () => {
        // Every local worker gone and no other worker can be assumed: say so rather than wait forever.
        if (o.workers > 0 && exited().length === o.workers) {
          throw new Error(`all ${o.workers} local workers exited (codes ${exited().map((c) => c.exitCode ?? c.signalCode).join(', ')}); the run stays resumable: run the same command again`);
        }
      },
    });
    if (o.showProgress && process.stderr.isTTY && lastPrint > 0) process.stderr.write('\n');
    const seconds = (performance.now() - started) / 1000;
    if (state.status !== 'finished') {
      await interruptRun(db, queue, start.runId);
      console.log(`Interrupted run ${start.runId} after ${fmt(state.customersScored)} customers (${state.rangesDone}/${state.ranges} ranges done). Run the same command again to resume.`);
      return EXIT_INTERRUPTED;
    }
    const scored = state.customersScored - start.alreadyScored;
    console.log(
      `Scored ${fmt(scored)} customers (${what}${start.resumed ? ', resumed' : ''}; ${fmt(state.customersScored)} in the run) in ${seconds.toFixed(1)} s: ` +
        `${fmt(scored / seconds)} customers/s, ${state.ranges} id ranges on ${o.workers} local worker${o.workers === 1 ? '' : 's'}` +
        `${o.workers === 0 ? ' (remote workers only)' : ''} (COPY + merge); coordinator peak RSS ${mb(peakRss)}.`,
    );
    return 0;
  } finally {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
    await Promise.all(children.map((c) => (c.exitCode !== null || c.signalCode !== null ? null : once(c, 'exit'))));
    await queue.close();
  }
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    const usage = err instanceof UsageError || err instanceof ScoreOptionsError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
    console.error(usage ? `${err.message}\n${USAGE}` : `score: ${err.message}`);
    process.exit(usage ? 2 : 1);
  },
);
