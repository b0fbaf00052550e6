// A shop whose log has no prices, from export to served model, with real processes, while the server
// runs: `npm run import -- --no-amounts` and `npm run train` go through the running server (on the
// embedded database through its socket: the server owns DATA_DIR), high_value is defined by order
// count (the card and the API say "places at least K paid orders in the next 90 days") for the three
// models (the Transformer too, in its quick setting), and the server
// switches to the promoted version 2 without a restart. On PGlite and PostgreSQL.
import { cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { initializeDataDir } from '../src/db/initdb.js';
import { createTestDatabase, databaseKinds, type TestDatabase } from './helpers/databases.js';
import { root, runCommand, startService, type ServiceProcess } from './helpers/process.js';

const fixture = (name: string) => path.join(root, 'test/fixtures/models', name);

describe.each(databaseKinds)('a log without amounts: import, train while serving, order-count definition, promotion (%s)', (kind) => {
  let scratch: string;
  let modelsDir: string;
  let t: TestDatabase | undefined;
  let service: ServiceProcess;
  let url: string;
  let env: Record<string, string>;

  const gql = async (query: string, variables: Record<string, unknown> = {}) => {
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, variables }) });
    return (await res.json()) as { data?: any; errors?: any[] };
  };

  beforeAll(async () => {
    scratch = await mkdtemp(path.join(os.tmpdir(), 'cia-no-amounts-'));
    modelsDir = path.join(scratch, 'models');
    await cp(path.join(root, 'models'), modelsDir, { recursive: true });
    const common = { MODELS_DIR: modelsDir, MODELS_POLL_SECONDS: '1', SCORING_AS_OF: 'data-end', LOG_LEVEL: 'info' };
    if (kind === 'postgresql') {
      t = await createTestDatabase('postgresql');
      env = { ...common, DATABASE_URL: t.url! };
    } else {
      const dataDir = path.join(scratch, 'data');
      await initializeDataDir(dataDir);
      env = { ...common, DATA_DIR: dataDir, DEMO_CUSTOMERS: '0' };
    }
    service = startService(env);
    url = (await service.waitFor(/GraphQL API ready/, 240_000)).url;
  }, 300_000);

  afterAll(async () => {
    service?.child.kill('SIGTERM');
    await service?.exited;
    await t?.drop();
    await rm(scratch, { recursive: true, force: true });
  });

  it('trains on the running server\'s database and serves high_value by order count', async () => {
    const imported = await runCommand(
      'src/ingest/cli.ts',
      ['--orders', fixture('orders-no-amounts.csv'), '--customers', fixture('customers.csv'), '--no-amounts'],
      env,
    );
    expect(imported.code, imported.output).toBe(0);

    const train = await runCommand('src/training/cli.ts', ['--quick', '--min-customers', '100'], env);
    expect(train.code, train.output).toBe(0);
    if (kind === 'pglite') expect(train.output).toMatch(/using the database of the running server \(its socket\)/);
    expect(train.output).toMatch(/exported 400 customers, 2,068 paid orders .*; 2,068 of them without amount \(imported with --no-amounts\)/);
    const definition = /high_value: places at least (\d+) paid orders in the next 90 days \(by order count: (\d+) of the \2 paid orders in the label windows have no amount/.exec(train.output);
    expect(definition, train.output).not.toBeNull();
    const k = Number(definition![1]);
    expect(k).toBeGreaterThanOrEqual(2);
    // The gate's verdict is stated either way. On this 81-customer held-out set the recalibrated
    // model's margin over the RFM rules is near the gate's noise (its interval may touch 0), so a
    // candidate is promoted by hand here — the gate itself is tested in models.lifecycle.test.ts.
    const verdict = /xgboost-segment version 2: (PROMOTED — beats every baseline|stays a candidate — .*Promote by hand: npm run models -- promote xgboost-segment 2)/.exec(train.output);
    expect(verdict, train.output).not.toBeNull();
    if (verdict![1].startsWith('stays a candidate')) {
      const promote = await runCommand('src/models/cli.ts', ['promote', 'xgboost-segment', '2'], env);
      expect(promote.code, promote.output).toBe(0);
    }
    // All three models by default, the Transformer included (one progress line per epoch).
    expect(train.output).toMatch(/npm run train: xgboost, logistic, transformer on /);
    expect(train.output).toMatch(/transformer epoch 1: train \d/);
    expect(train.output).toMatch(/transformer-segment version 2: trained in [\d.]+ s, held-out log loss \d/);
    const tcard = JSON.parse(await readFile(path.join(modelsDir, 'transformer-segment/2/model.json'), 'utf8'));
    expect(tcard.high_value_threshold).toMatchObject({ value: k, unit: 'orders' });

    // The card says which definition holds, with the threshold in orders, and that amounts were unknown.
    const card = JSON.parse(await readFile(path.join(modelsDir, 'xgboost-segment/2/model.json'), 'utf8'));
    expect(card.high_value_threshold).toMatchObject({ value: k, unit: 'orders', definition: 'orders' });
    expect(card.high_value_threshold.why).toMatch(/have no amount/);
    expect(card.classes.find((c: { key: string }) => c.key === 'high_value')).toMatchObject({ threshold: k, threshold_unit: 'orders' });
    expect(card.training_data).toMatchObject({ high_value_definition: 'orders', paid_orders_without_amount: 2068 });
    expect(card.training_data.source).toMatchObject({ kind: 'database', paid_orders: 2068, paid_orders_without_amount: 2068, currency: null });
    // No money feature pretended: the trees never split on spend (every value was missing).
    const ordered: string[] = card.features.ordered;
    const importance = card.training_details.feature_importance_gain as Record<string, number>;
    expect(Object.keys(importance).length).toBeGreaterThan(0);
    for (const f of ordered.filter((n) => n.startsWith('spend_') || n.startsWith('monetary_'))) expect(importance[f], f).toBeUndefined();

    // The running server switches to version 2 (no restart) and states the order-count definition.
    const models = await vi.waitFor(
      async () => {
        const { data } = await gql(`{ models(name: "xgboost-segment") { version status horizonDays classes { key definition threshold } } }`);
        const promoted = data.models.find((m: { status: string }) => m.status === 'promoted');
        if (promoted.version !== '2') throw new Error(`still serving version ${promoted.version}`);
        return data.models;
      },
      { timeout: 120_000, interval: 250 },
    );
    const v2 = models.find((m: { version: string }) => m.version === '2');
    const cls = (key: string) => v2.classes.find((c: { key: string }) => c.key === key);
    expect(cls('high_value')).toEqual({ key: 'high_value', definition: `places at least ${k} paid orders in the next 90 days`, threshold: k });
    expect(cls('active').definition).toBe(`places at least one but fewer than ${k} paid orders in the next 90 days`);
    expect(cls('lapsing').definition).toBe('places no paid order in the next 90 days');
    // Version 1 (trained on the demo data, with amounts) keeps its spend definition.
    const v1 = models.find((m: { version: string }) => m.version === '1');
    expect(v1.classes.find((c: { key: string }) => c.key === 'high_value').definition).toBe('spends at least $201.58 in the next 90 days');

    // The served prediction comes from version 2 (spend features missing, not 0.00).
    const { data, errors } = await gql(`{ customerByExternalId(externalId: "fx-0010") { stats { orderCount } prediction { modelVersion segment } } }`);
    expect(errors).toBeUndefined();
    expect(data.customerByExternalId.prediction.modelVersion).toBe('2');
    expect(['lapsing', 'active', 'high_value']).toContain(String(data.customerByExternalId.prediction.segment).toLowerCase());

    // The Transformer's explanation names the orders without inventing amounts ("$0.00").
    const explained = await gql(
      `{ customerByExternalId(externalId: "fx-0010") { prediction(model: "transformer-segment", version: "2") { modelVersion explanation(top: 32) { summary contributions { feature label value } } } } }`,
    );
    expect(explained.errors).toBeUndefined();
    const contributions = explained.data.customerByExternalId.prediction.explanation.contributions as { feature: string; label: string; value: number | null }[];
    const orders = contributions.filter((c) => c.feature.startsWith('order['));
    expect(orders.length).toBeGreaterThan(0);
    for (const c of orders) {
      expect(c.label).toMatch(/^Order of \d{4}-\d{2}-\d{2} \(amount unknown\)$/);
      expect(c.value).toBeNull();
    }
    expect(explained.data.customerByExternalId.prediction.explanation.summary).not.toMatch(/\$0\.00/);
  }, 900_000);
});
