// Stored scores after start-up and promotion, on both databases, in-process: until a batch-scoring
// run of the served version has finished, segmentSummary and the answers that read stored scores
// (segment filters, PROBABILITY ordering) say so; the model lifecycle's background run fixes that.
// SCORING_AS_OF=data-end scores at the last paid order. The training export writes the same bytes
// from PGlite (keyset pages) and PostgreSQL (COPY).
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importFiles } from '../src/ingest/import.js';
import { ModelLifecycle } from '../src/models/lifecycle.js';
import { scoreCustomers } from '../src/scoring/batch.js';
import { exportTrainingData } from '../src/training/export.js';
import { databaseKinds } from './helpers/databases.js';
import { root } from './helpers/process.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const fixture = (name: string) => path.join(root, 'test/fixtures/models', name);
const exports = new Map<string, { sha: string[]; orders: string }>();

describe.each(databaseKinds)('stored scores and the model lifecycle on %s', (kind) => {
  let t: TestServer;
  let dir: string;

  beforeAll(async () => {
    t = await startTestServer(kind, { SCORING_AS_OF: 'data-end' });
    await importFiles(t.db, { orders: fixture('orders.csv'), customers: fixture('customers.csv') });
    dir = await mkdtemp(path.join(os.tmpdir(), 'cia-export-'));
  }, 120_000);
  afterAll(async () => {
    await t?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('says the stored scores are incomplete until the first run of the served version has finished, then not', async () => {
    const listQuery = `{ customers(first: 5, filter: { segment: "lapsing" }, orderBy: { field: PROBABILITY, direction: DESC }) { edges { node { externalId } } } }`;
    const before = await t.post(JSON.stringify({ query: listQuery }));
    expect(before.json.data.customers.edges).toEqual([]);
    expect(before.json.extensions.warnings).toEqual([
      expect.objectContaining({ code: 'STORED_SCORES_INCOMPLETE', model: 'xgboost-segment', servedVersion: '1', message: expect.stringMatching(/no batch-scoring run of xgboost-segment version 1 has finished yet, so 400 of 400 customers have no current stored score; start one with `npm run score -- --model xgboost-segment`/) }),
    ]);
    const summaryQuery = `{ segmentSummary { stale scoringInProgress note customersScored } }`;
    const s0 = (await t.post(JSON.stringify({ query: summaryQuery }))).json.data.segmentSummary;
    expect(s0).toMatchObject({ stale: true, scoringInProgress: false, customersScored: 0 });

    const lifecycle = new ModelLifecycle(t.db, t.scoring, pino({ level: 'silent' }), { pollSeconds: 0, backgroundScoring: true, scoreAtDataEnd: true });
    await lifecycle.start();
    // data-end: the last paid order of the fixture.
    expect(t.scoring.asOf().toISOString()).toBe('2026-06-30T07:33:22.492Z');
    await lifecycle.idle();
    await lifecycle.stop();

    const s1 = (await t.post(JSON.stringify({ query: `{ segmentSummary { stale note customersScored storedVersions lastRun { asOf status } } }` }))).json.data.segmentSummary;
    expect(s1).toEqual({ stale: false, note: null, customersScored: 400, storedVersions: ['1'], lastRun: { asOf: '2026-06-30T07:33:22.492Z', status: 'finished' } });
    const after = await t.post(JSON.stringify({ query: listQuery }));
    expect(after.json.data.customers.edges.length).toBe(5);
    expect(after.json.extensions?.warnings).toBeUndefined();

    // A customer created after the run has no stored score: the summary says so, with the command for this model.
    const added = await t.db.prisma.customer.create({ data: { externalId: 'fx-late', name: 'Late' } });
    try {
      const s2 = (await t.post(JSON.stringify({ query: summaryQuery }))).json.data.segmentSummary;
      expect(s2).toMatchObject({ stale: true, customersScored: 400 });
      expect(s2.note).toMatch(/^1 of 401 customers have no stored score of xgboost-segment \(created after its last run\); start one with `npm run score -- --model xgboost-segment --restart`\./);
    } finally {
      await t.db.prisma.customer.delete({ where: { id: added.id } });
    }

    // A run of another model stopped after one page: the advice resumes that run, of that model, at its asOf.
    const partial = await scoreCustomers(t.db, t.scoring, { model: 'logistic-segment', asOf: new Date('2026-06-30T23:59:59.999Z'), pageSize: 50, maxPages: 1 });
    expect(partial).toMatchObject({ outcome: 'interrupted', scored: 50 });
    const s3 = (await t.post(JSON.stringify({ query: `{ segmentSummary(model: "logistic-segment") { stale note } }` }))).json.data.segmentSummary;
    expect(s3.stale).toBe(true);
    expect(s3.note).toContain(`resume run ${partial.runId} (interrupted) with \`npm run score -- --model logistic-segment --as-of 2026-06-30T23:59:59.999Z\``);
  }, 120_000);

  it('exports paid orders and customers (no names or emails) in the pipeline\'s format', async () => {
    const source = await exportTrainingData(t.db, { databaseUrl: t.url, dataDir: 'memory://', dir });
    expect(source).toMatchObject({ kind: 'database', customers: 400, paid_orders: 2068, customers_with_orders: 389, currency: 'EUR', first_order: '2023-07-18T19:08:43.662Z', last_order: '2026-06-30T07:33:22.492Z' });
    expect(source.files.map((f) => [f.path, f.rows])).toEqual([['customers.csv', 400], ['orders.csv', 2068]]);
    const customers = (await readFile(path.join(dir, 'customers.csv'), 'utf8')).split('\n');
    expect(customers[0]).toBe('customer_id,name,email,gender,birth_date,country,created_at');
    expect(customers[1]).toBe('fx-0001,,,F,1990-06-15,DE,2023-10-24T00:00:00.000Z');
    const orders = await readFile(path.join(dir, 'orders.csv'), 'utf8');
    expect(orders.split('\n')[0]).toBe('order_id,customer_id,ordered_at,amount,item_count,currency,status');
    expect(orders).toContain('\nfo-000001,fx-0001,2026-01-01T00:00:00.000Z,10.00,1,EUR,paid\n');
    expect(orders).not.toMatch(/,(refunded|cancelled)\n/);
    exports.set(kind, { sha: source.files.map((f) => f.sha256), orders });
    if (exports.size === 2) expect(exports.get('pglite')!.sha).toEqual(exports.get('postgresql')!.sha); // COPY and keyset pages: same bytes
  }, 60_000);
});
