// /health/ready's `models` check runs each model's one-row inference on every check, so a model
// whose session was released (or broke) makes the process unready instead of being reported fine.
// Models do not depend on the database kind: PGlite is enough here.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './helpers/server.js';

describe('readiness: models', () => {
  let t: TestServer;
  const ready = async () => {
    const res = await fetch(t.server.url.replace('/graphql', '/health/ready'));
    return { status: res.status, body: (await res.json()) as any };
  };

  beforeAll(async () => {
    t = await startTestServer('pglite');
  });
  afterAll(async () => {
    await t?.close();
  });

  it('is ready while every model answers an inference', async () => {
    const { status, body } = await ready();
    expect(status).toBe(200);
    expect(body.checks).toEqual({ startup: true, database: true, migrations: true, models: true });
    expect(body.models).toBe(t.scoring.inference.registry.list().length);
    expect(body.unhealthyModels).toBeUndefined();
  });

  it('is unready, naming the model, once a model session is released', async () => {
    const broken = t.scoring.inference.registry.get('logistic-segment')!;
    await broken.session.release();
    const { status, body } = await ready();
    expect(status).toBe(503);
    expect(body.status).toBe('unavailable');
    expect(body.checks).toEqual({ startup: true, database: true, migrations: true, models: false });
    expect(body.unhealthyModels.map((m: { model: string }) => m.model)).toEqual(['logistic-segment']);
    expect(body.unhealthyModels[0].problem).toMatch(/\S/);
    // Liveness is unaffected: the process is fine, this replica just should not get traffic.
    const live = await fetch(t.server.url.replace('/graphql', '/health/live'));
    expect(live.status).toBe(200);
  });
});
