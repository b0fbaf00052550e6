// The loop a shop lives in, end to end with real processes on a real PostgreSQL: import the fixture →
// `npm run train` on the database → version 2 → quality gate → promotion → a running server switches
// without a restart (and never serves version 1's cached numbers as version 2's), stored scores are
// refreshed in the background, and `npm run models -- promote` switches back. Plus the refusal on too
// little data. Models are written to a copy of models/ in a temporary folder.
import { execFile } from 'node:child_process';
import { cp, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { importFiles } from '../src/ingest/import.js';
import { createTestDatabase, databaseKinds, type TestDatabase } from './helpers/databases.js';
import { root, startService, type ServiceProcess } from './helpers/process.js';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function npmRun(script: string, args: string[], env: Record<string, string>): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', script, ...args],
      { cwd: root, env: { ...process.env, LOG_LEVEL: 'info', ...env }, maxBuffer: 32 * 2 ** 20 },
      (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

const fixture = (name: string) => path.join(root, 'test/fixtures/models', name);

/** Polls `check` until it returns a value (not undefined), within a generous deadline. */
async function eventually<T>(check: () => Promise<T | undefined>, what: string, ms = 120_000): Promise<T> {
  return vi.waitFor(
    async () => {
      const value = await check();
      if (value === undefined) throw new Error(`timed out waiting for ${what}`);
      return value;
    },
    { timeout: ms, interval: 200 },
  );
}

const pgOnly = databaseKinds.includes('postgresql') ? describe : describe.skip;

pgOnly('model versions: train from the database, gate, promotion without restart (PostgreSQL, real processes)', () => {
  let t: TestDatabase;
  let modelsDir: string;
  let service: ServiceProcess;
  let url: string;
  let env: Record<string, string>;

  const gql = async (query: string, variables: Record<string, unknown> = {}) => {
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, variables }) });
    return (await res.json()) as { data?: any; errors?: any[]; extensions?: any };
  };
  const served = async (name: string) => {
    const { data } = await gql(`query($n: String) { models(name: $n) { version status identity } }`, { n: name });
    return (data.models as { version: string; status: string; identity: string }[]).find((m) => m.status === 'promoted')!;
  };

  beforeAll(async () => {
    modelsDir = await mkdtemp(path.join(os.tmpdir(), 'cia-versions-'));
    await cp(path.join(root, 'models'), modelsDir, { recursive: true });
    t = await createTestDatabase('postgresql');
    await importFiles(t.db, { orders: fixture('orders.csv'), customers: fixture('customers.csv') });
    env = {
      DATABASE_URL: t.url!,
      MODELS_DIR: modelsDir,
      MODELS_POLL_SECONDS: '1',
      BACKGROUND_SCORING: 'on',
      SCORING_AS_OF: 'data-end',
      ORT_EXECUTION_PROVIDERS: 'cpu',
    };
    service = startService(env);
    url = (await service.waitFor(/GraphQL API ready/, 120_000)).url;
  }, 180_000);

  afterAll(async () => {
    service?.child.kill('SIGTERM');
    await service?.exited;
    await t?.drop();
    await rm(modelsDir, { recursive: true, force: true });
  });

  it('refuses to train on too little data, saying what is missing, and writes nothing', async () => {
    // The fixture has 400 customers: fewer than the 500 needed by default.
    const run = await npmRun('src/training/cli.ts', ['--quick', '--models', 'logistic'], env);
    expect(run.code).toBe(3);
    expect(run.stderr).toMatch(/not enough data to train: 389 customers have a paid order before the test cutoff 2026-04-02, at least 500 are needed/);
    expect(await readdir(path.join(modelsDir, 'logistic-segment'))).toEqual(['1']);
    const history = await npmRun('src/training/cli.ts', ['--quick', '--models', 'logistic', '--min-customers', '10', '--horizon-days', '700'], env);
    expect(history.code).toBe(3);
    expect(history.stderr).toMatch(/less than two horizons \(1400 days for --horizon-days 700\)/);
  }, 300_000);

  it('trains version 2 from the database, promotes it through the gate, and the running server switches without restart', async () => {
    // Served before: version 1; the background scoring of the fresh start scores the fixture with it.
    expect((await served('xgboost-segment')).version).toBe('1');
    await eventually(async () => ((await gql(`{ segmentSummary { stale } }`)).data.segmentSummary.stale === false ? true : undefined), 'the start-up scoring run');
    const id = (await gql(`{ customerByExternalId(externalId: "fx-0010") { id } }`)).data.customerByExternalId.id as string;
    const ask = `query($id: ID!) { customer(id: $id) { prediction { modelVersion segmentProbabilities { probability } } } }`;
    const before = (await gql(ask, { id })).data.customer.prediction; // computed by version 1, now cached
    expect(before.modelVersion).toBe('1');

    const train = await npmRun('src/training/cli.ts', ['--quick', '--models', 'logistic,xgboost', '--min-customers', '100'], env);
    const trainedAt = Date.now();
    expect(train.code, train.stderr).toBe(0);
    expect(train.stderr).toMatch(/xgboost-segment version 2: PROMOTED — beats every baseline: majority -0\.\d+ \[/);
    expect(train.stderr).toMatch(/"event":"model.promoted","model":"xgboost-segment","version":"2","promotedBy":"quality gate \(npm run train\)"/);

    // The card: data source, classes with the threshold, metrics, baselines, gate.
    const card = JSON.parse(await readFile(path.join(modelsDir, 'xgboost-segment/2/model.json'), 'utf8'));
    expect(card.version).toBe('2');
    expect(card.training_data.source).toMatchObject({ kind: 'database', customers: 400, paid_orders: 2068, currency: 'EUR', first_order: '2023-07-18T19:08:43.662Z' });
    expect(card.training_data.source.files.map((f: { sha256: string }) => f.sha256)).toEqual([expect.stringMatching(/^[0-9a-f]{64}$/), expect.stringMatching(/^[0-9a-f]{64}$/)]);
    expect(Object.keys(card.baselines).sort()).toEqual(['majority', 'rfm']);
    expect(card.gate.passed).toBe(true);
    expect(card.metrics_held_out.log_loss).toBeLessThan(card.baselines.majority.log_loss);
    // The evaluation served to the dashboard: confusion matrix = the held-out metrics', bins over every held-out customer.
    expect(card.evaluation.confusion.matrix).toEqual(card.metrics_held_out.confusion_matrix);
    for (const bins of Object.values(card.evaluation.calibration.classes) as { count: number }[][]) {
      expect(bins.reduce((a, b) => a + b.count, 0)).toBe(card.metrics_held_out.n);
    }

    // Promotion seen by the running server (it polls every second), without a restart.
    const switched = await eventually(async () => ((await served('xgboost-segment')).version === '2' ? Date.now() : undefined), 'the switch to version 2');
    const switchLine = await service.waitFor(/"event":"model.switched","model":"xgboost-segment","from":"1","to":"2"/);
    const [promotion] = await t.db.prisma.$queryRaw<{ promotedAt: Date }[]>`SELECT "promotedAt" FROM "ModelPromotion" WHERE "model" = 'xgboost-segment' AND "version" = '2'`;
    console.log(
      `promotion latency: ${switchLine.time - promotion.promotedAt.getTime()} ms from the promotion row to the server's switch ` +
        `(MODELS_POLL_SECONDS=1; seen by a client ${switched - trainedAt} ms after \`npm run train\` exited)`,
    );

    const { data } = await gql(`{ models(name: "xgboost-segment") { version status isDefault horizonDays classes { key definition threshold } baselines gate evaluation { customers confusion { matrix } } } }`);
    const [v1, v2] = data.models;
    expect([v1.version, v1.status, v1.isDefault, v2.version, v2.status, v2.isDefault]).toEqual(['1', 'retired', false, '2', 'promoted', true]);
    const threshold = card.high_value_threshold.value as number;
    expect(v2.classes.find((c: { key: string }) => c.key === 'high_value').definition).toBe(`spends at least €${threshold.toFixed(2)} in the next 90 days`);
    expect(v1.classes.find((c: { key: string }) => c.key === 'high_value').definition).toBe('spends at least $201.58 in the next 90 days');
    expect(v2.baselines.rfm.log_loss).toBe(card.baselines.rfm.log_loss);
    expect(v2.evaluation).toEqual({ customers: card.metrics_held_out.n, confusion: { matrix: card.metrics_held_out.confusion_matrix } });

    // The cache never serves version 1's numbers under version 2: the default now equals an explicit
    // version 2 prediction, and differs from version 1's (still reachable by name).
    const after = (await gql(ask, { id })).data.customer.prediction;
    const both = (await gql(`query($id: ID!) { customer(id: $id) { one: prediction(version: "1") { modelVersion segmentProbabilities { probability } } two: prediction(version: "2") { modelVersion segmentProbabilities { probability } } } }`, { id })).data.customer;
    expect(after.modelVersion).toBe('2');
    expect(after.segmentProbabilities).toEqual(both.two.segmentProbabilities);
    expect(both.one.segmentProbabilities).toEqual(before.segmentProbabilities);
    expect(after.segmentProbabilities).not.toEqual(before.segmentProbabilities);

    // Stored scores: refreshed by a background run of version 2.
    const summary = await eventually(async () => {
      const s = (await gql(`{ segmentSummary { servedVersion storedVersions stale staleCustomers note lastRun { modelVersion status } } }`)).data.segmentSummary;
      return s.stale === false ? s : undefined;
    }, 'the background scoring run of version 2');
    expect(summary).toMatchObject({ servedVersion: '2', storedVersions: ['2'], staleCustomers: 0, note: null, lastRun: { modelVersion: '2', status: 'finished' } });

    // By hand, back to version 1: audited, and seen by the server.
    const promote = await npmRun('src/models/cli.ts', ['promote', 'xgboost-segment', '1'], env);
    expect(promote.code, promote.stderr).toBe(0);
    expect(promote.stderr).toMatch(/"event":"model.promoted","model":"xgboost-segment","version":"1","promotedBy":"cli \(/);
    await eventually(async () => ((await served('xgboost-segment')).version === '1' ? true : undefined), 'the switch back to version 1');
    // Version 1 already finished a run at this scoring time (at start-up), since overwritten: it is scored again.
    const back = await eventually(async () => {
      const s = (await gql(`{ segmentSummary { stale storedVersions } }`)).data.segmentSummary;
      return s.stale === false ? s : undefined;
    }, 'the stored scores of version 1 again');
    expect(back.storedVersions).toEqual(['1']);
    const list = await npmRun('src/models/cli.ts', ['list'], env);
    expect(list.stdout).toMatch(/xgboost-segment\t1\tpromoted\t0\.5176\t–/);
    expect(list.stdout).toMatch(/xgboost-segment\t2\tretired\t0\.\d{4}\tpassed/);
    const unknown = await npmRun('src/models/cli.ts', ['promote', 'xgboost-segment', '9'], env);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/xgboost-segment has no version 9/);
  }, 600_000);

  it('the admin mutation promoteModel switches at once, audited in the log; bad versions are BAD_USER_INPUT', async () => {
    const res = await gql(`mutation { promoteModel(name: "xgboost-segment", version: "2") { version status isDefault } }`);
    expect(res.errors).toBeUndefined();
    expect(res.data.promoteModel).toEqual({ version: '2', status: 'promoted', isDefault: true });
    expect((await served('xgboost-segment')).version).toBe('2');
    await service.waitFor(/"event":"model.promoted","model":"xgboost-segment","version":"2","previous":"1","promotedBy":"api \(admin\)"/);
    const bad = await gql(`mutation { promoteModel(name: "xgboost-segment", version: "7") { version } }`);
    expect(bad.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'version' });
    const badName = await gql(`mutation { promoteModel(name: "nope", version: "1") { version } }`);
    expect(badName.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'name' });
    const wrongVersion = await gql(`{ customers(first: 1) { edges { node { prediction(version: "7") { segment } } } } }`);
    expect(wrongVersion.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'version' });
  }, 120_000);
});
