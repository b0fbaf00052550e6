// `npm run score -- [--model NAME] [--as-of ISO] [--page-size N] [--restart] [--max-pages N] [--progress]`
// Scores every customer into "CustomerScore" (see batch.ts and the README's "Batch scoring").
// Exit codes: 0 finished (or nothing to do), 1 failed, 2 usage error (bad option, unknown model),
// 3 interrupted (Ctrl-C / SIGTERM / --max-pages): re-run the same command to resume.
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { loadConfig } from '../config.js';
import { commandDatabase, openDatabase } from '../db/client.js';
import { applyMigrations } from '../db/migrate.js';
import { UnknownModelError } from '../inference/service.js';
import { DEFAULT_SCORE_PAGE_SIZE, describeTimings, MAX_SCORE_PAGE_SIZE, ScoreOptionsError, scoreCustomers } from './batch.before.js';
import { parseScoringTime, scoringTimeFormat } from './as-of.js';
import { lastPaidOrderAt } from '../models/lifecycle.js';
import { readPromotions } from '../models/promotions.js';
import { createScoring } from './setup.js';

const USAGE = `Usage: npm run score -- [--model NAME] [--as-of ISO] [--page-size N] [--restart] [--max-pages N] [--progress]
  --model NAME     model to score with (default: DEFAULT_MODEL)
  --as-of ISO      scoring time: a date-time (2026-06-30T12:00:00Z) or a date (2026-06-30 = the end of that UTC day)
                   (default: SCORING_AS_OF, else the end of today, UTC)
  --page-size N    customers per page and transaction, 1–${MAX_SCORE_PAGE_SIZE} (default ${DEFAULT_SCORE_PAGE_SIZE})
  --restart        start over instead of resuming an unfinished (or re-running a finished) run
  --max-pages N    stop after N ≥ 1 pages (resumable), e.g. to score in slices
  --progress       progress lines on stderr even when it is not a terminal`;

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
  let asOf: Date | undefined;
  if (values['as-of'] !== undefined) {
    asOf = parseScoringTime(values['as-of']) ?? undefined;
    if (!asOf) throw new UsageError(`--as-of must be ${scoringTimeFormat} (got ${JSON.stringify(values['as-of'])})`);
  }

  const cfg = loadConfig();
  // Models log at info when loaded; the command's own output is enough unless asked for more.
  const log = pino({ level: cfg.LOG_LEVEL === 'info' ? 'warn' : cfg.LOG_LEVEL }, pino.destination(2));
  const db = await openDatabase(commandDatabase(cfg, 'npm run score', 3));
  const scoring = await createScoring(cfg, log).catch(async (err: unknown) => {
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

  const showProgress = Boolean(values.progress) || process.stderr.isTTY;
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
        `${summary.pipelined ? ' (pipelined)' : ''}; ${describeTimings(summary.timings, summary.seconds)}; peak RSS ${mb(peakRss)}.`,
    );
    if (summary.outcome === 'interrupted') {
      console.log('Run the same command again to resume.');
      return EXIT_INTERRUPTED;
    }
    return 0;
  } finally {
    await scoring.inference.registry.close();
    await db.close();
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
