// Distributed batch scoring (src/scoring/distributed.ts) with real processes, a real Redis (BullMQ)
// and a real PostgreSQL: `npm run score -- --workers N` and `npm run score:worker`. A worker killed
// with SIGKILL in the middle of a job has its job retried by another worker, which continues after
// the range's last committed page; the run still ends with exactly one score per customer and a
// customersScored that counts each customer once.
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedDemo } from '../src/demo/seed.js';
import { uuidRanges } from '../src/scoring/distributed.js';
import { createTestDatabase, databaseKinds, type TestDatabase } from './helpers/databases.js';
import { runCommand, startNode, type ServiceProcess } from './helpers/process.js';
import { redisReachable } from './helpers/redis.js';

const redisUrl = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';


const redisUp = await redisReachable(redisUrl);
if (!redisUp) console.warn(`[tests] Redis not reachable at ${redisUrl}: the distributed scoring tests are skipped.`);
const pgUp = databaseKinds.includes('postgresql');

const CUSTOMERS = 900;
const AS_OF = '2026-01-01';
const TIMEOUT = 240_000;

describe('id ranges', () => {
  it('split the uuid space into contiguous, ordered ranges that cover every id', () => {
    const ranges = uuidRanges(4);
    expect(ranges).toEqual([
      { from: null, before: '40000000-0000-0000-0000-000000000000' },
      { from: '40000000-0000-0000-0000-000000000000', before: '80000000-0000-0000-0000-000000000000' },
      { from: '80000000-0000-0000-0000-000000000000', before: 'c0000000-0000-0000-0000-000000000000' },
      { from: 'c0000000-0000-0000-0000-000000000000', before: null },
    ]);
    const seven = uuidRanges(7);
    for (let i = 1; i < seven.length; i++) expect(seven[i].from).toBe(seven[i - 1].before);
    expect(uuidRanges(1)).toEqual([{ from: null, before: null }]);
  });
});

describe.runIf(redisUp && pgUp)('distributed batch scoring (BullMQ workers, PostgreSQL)', () => {
  let t: TestDatabase;
  const prefix = `cia-test-${randomBytes(4).toString('hex')}`;
  const processes: ServiceProcess[] = [];
  const env = (extra: Record<string, string> = {}) => ({
    DATABASE_URL: t.url!,
    REDIS_URL: redisUrl,
    SCORE_QUEUE_PREFIX: prefix,
    // ~300 customers per range and 10 per page: every job is tens of pages, so a kill lands mid-job.
    SCORE_RANGE_CUSTOMERS: '300',
    // A dead worker's job is found within seconds (lock 3 s, checked every second).
    SCORE_JOB_LOCK_SECONDS: '3',
    SCORE_JOB_STALLED_CHECK_SECONDS: '1',
    LOG_LEVEL: 'info',
    ...extra,
  });

  beforeAll(async () => {
    t = await createTestDatabase('postgresql');
    await seedDemo(t.db, { customers: CUSTOMERS, seed: 11, anchor: '2026-01-01' });
  }, TIMEOUT);
  afterAll(async () => {
    for (const p of processes) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    const r = new Redis(redisUrl);
    const keys = await r.keys(`${prefix}:*`);
    if (keys.length) await r.del(...keys);
    r.disconnect();
    await t?.drop();
  });

  const scoresOf = (runId: number) =>
    t.db.prisma.$queryRaw<{ customers: number; rows: number; inRun: number; versions: number }[]>`
      SELECT (SELECT count(*)::int FROM "Customer") AS "customers",
             count(*)::int AS "rows",
             count(*) FILTER (WHERE s."runId" = ${runId})::int AS "inRun",
             count(DISTINCT s."modelVersion")::int AS "versions"
      FROM "CustomerScore" s WHERE s."model" = 'xgboost-segment'`;

  it('`--workers 2` splits the run into ranges, scores every customer once and finishes the run', { timeout: TIMEOUT }, async () => {
    const result = await runCommand('src/scoring/cli.ts', ['--workers', '2', '--as-of', AS_OF, '--page-size', '25', '--progress'], env());
    expect(result.code, result.output).toBe(0);
    expect(result.output).toMatch(/Scored 900 customers \(run (\d+), xgboost-segment .*\) in .* s: .* customers\/s, 3 id ranges on 2 local workers/);
    const runId = Number(/Scored 900 customers \(run (\d+)/.exec(result.output)![1]);
    expect(result.output).toMatch(/\[#+\] 900 \/ 900 customers \(100\.0%\), ranges 3\/3/); // the progress bar
    const run = await t.db.prisma.scoreRun.findUniqueOrThrow({ where: { id: runId }, include: { rangeRows: true } });
    expect(run).toMatchObject({ status: 'finished', customersScored: CUSTOMERS, ranges: 3 });
    expect(run.rangeRows.every((r) => r.status === 'done')).toBe(true);
    expect(run.rangeRows.reduce((s, r) => s + r.customersScored, 0)).toBe(CUSTOMERS);
    expect(await scoresOf(runId)).toEqual([{ customers: CUSTOMERS, rows: CUSTOMERS, inRun: CUSTOMERS, versions: 1 }]);

    // Same command again: nothing to do.
    const again = await runCommand('src/scoring/cli.ts', ['--workers', '2', '--as-of', AS_OF], env());
    expect(again.code, again.output).toBe(0);
    expect(again.output).toContain(`Nothing to do: run ${runId}`);
  });

  it('a worker killed with SIGKILL mid-job: its job is retried and continues, exactly one score per customer', { timeout: TIMEOUT }, async () => {
    // Two workers first (model loading takes a while), then the run, coordinated by a CLI with no local workers.
    const workerEnv = env();
    const a = startNode('src/scoring/worker-cli.ts', [], workerEnv);
    processes.push(a);
    await a.waitFor(/score worker ready/, TIMEOUT);
    const cli = startNode('src/scoring/cli.ts', ['--workers', '0', '--as-of', AS_OF, '--page-size', '10', '--restart', '--progress'], env());
    processes.push(cli);
    // Worker A takes a job and commits a page of it (the job has ~30 pages): kill it there.
    const started = await a.waitFor(/score job started/, TIMEOUT);
    const page = await a.waitFor(new RegExp(`"job":"${started.job}".*"msg":"score page committed"`), TIMEOUT);
    a.child.kill('SIGKILL');
    // Progress is visible while the run goes on: the run's row (what segmentSummary.lastRun shows).
    const opened = await cli.waitFor(/^Run \d+ \(/, TIMEOUT);
    const openRunId = Number(/^Run (\d+)/.exec(opened.line)![1]);
    const midway = await t.db.prisma.scoreRun.findUniqueOrThrow({ where: { id: openRunId } });
    expect(midway.status).toBe('running');
    expect(midway.customersScored).toBeGreaterThanOrEqual(10);
    expect(midway.customersScored).toBeLessThan(CUSTOMERS);
    const killed = await a.exited;
    expect(killed.signal).toBe('SIGKILL');
    const jobId: string = started.job;
    expect(page.pages).toBeGreaterThanOrEqual(1);

    // Worker B starts after the kill, finds the stalled job (lock expired) and everything else.
    const b = startNode('src/scoring/worker-cli.ts', [], workerEnv);
    processes.push(b);
    const retried = await b.waitFor(new RegExp(`"job":"${jobId}".*"msg":"score job started`), TIMEOUT);
    expect(retried.attempt).toBeGreaterThanOrEqual(2);
    expect(retried.resumeAfter).toMatch(/^[0-9a-f-]{36}$/); // continues after A's last committed page
    const { code } = await cli.exited;
    expect(code, cli.lines.slice(-20).join('\n')).toBe(0);
    const summary = cli.lines.find((l) => l.startsWith('Scored '))!;
    expect(summary).toMatch(/Scored 900 customers \(run \d+/);
    const runId = Number(/run (\d+)/.exec(summary)![1]);
    expect(runId).toBe(openRunId);

    const run = await t.db.prisma.scoreRun.findUniqueOrThrow({ where: { id: runId }, include: { rangeRows: { orderBy: { index: 'asc' } } } });
    expect(run).toMatchObject({ status: 'finished', customersScored: CUSTOMERS });
    const range = run.rangeRows.find((r) => r.index === started.range)!;
    expect(range.attempts).toBeGreaterThanOrEqual(2);
    expect(run.rangeRows.every((r) => r.status === 'done')).toBe(true);
    expect(run.rangeRows.reduce((s, r) => s + r.customersScored, 0)).toBe(CUSTOMERS);
    // Exactly one score per customer, all from this run's model version.
    expect(await scoresOf(runId)).toEqual([{ customers: CUSTOMERS, rows: CUSTOMERS, inRun: CUSTOMERS, versions: 1 }]);
    // The range of the killed job holds exactly its customers.
    const [{ inRange }] = await t.db.prisma.$queryRaw<{ inRange: number }[]>`
      SELECT count(*)::int AS "inRange" FROM "CustomerScore" s
      WHERE s."runId" = ${runId} AND (${range.fromId}::uuid IS NULL OR s."customerId" >= ${range.fromId}::uuid)
        AND (${range.toId}::uuid IS NULL OR s."customerId" < ${range.toId}::uuid)`;
    expect(inRange).toBe(range.customersScored);

    b.child.kill('SIGTERM');
    expect((await b.exited).code).toBe(0);
  });

  it('refuses --workers without REDIS_URL (exit 2, nothing written)', { timeout: TIMEOUT }, async () => {
    const runs = await t.db.prisma.scoreRun.count();
    const r = await runCommand('src/scoring/cli.ts', ['--workers', '2'], env({ REDIS_URL: '' }));
    expect(r.code).toBe(2);
    expect(r.output).toContain('--workers needs REDIS_URL');
    expect(await t.db.prisma.scoreRun.count()).toBe(runs);
  });
});
