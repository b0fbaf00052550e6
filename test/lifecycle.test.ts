// The real process: live before ready, ready only after migrations and seeding, and a SIGTERM that
// lets in-flight requests finish before the models and the database are closed — also when the
// signal goes to `npm start`, as a supervisor sends it.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startProcess, startService, type ServiceProcess } from './helpers/process.js';

describe('process lifecycle', () => {
  let dir: string;
  let service: ServiceProcess | undefined;
  afterAll(async () => {
    service?.child.kill('SIGKILL');
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('is live at once, ready after seeding, and drains in-flight requests on SIGTERM', { timeout: 600_000 }, async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'cia-life-'));
    service = startService({
      DATA_DIR: path.join(dir, 'db'),
      DEMO_CUSTOMERS: '8000',
      DEMO_ANCHOR: '2026-01-01',
      SCORING_AS_OF: '2026-01-01T00:00:00.000Z',
      // Requests wait in the micro-batcher until shutdown drains it (the delay is never reached), so
      // they are certainly in flight at SIGTERM however busy the machine is.
      INFERENCE_MAX_QUEUE_DELAY_MS: '60000',
      INFERENCE_MAX_BATCH_SIZE: '100000',
      PREDICTION_CACHE_CUSTOMERS: '0',
      SHUTDOWN_GRACE_SECONDS: '120',
      // Only this test's requests in the inference queue: a background scoring run would fill it too.
      BACKGROUND_SCORING: 'off',
    });
    // Generous deadlines: a first start runs initdb and seeds 8,000 customers, on a busy machine too.
    const listening = await service.waitFor(/"msg":"listening/, 300_000);
    const base = String(listening.url).replace('/graphql', '');

    // While migrations and seeding run: live, not ready, GraphQL refuses with 503.
    const live = await fetch(`${base}/health/live`);
    expect(live.status).toBe(200);
    const early = await fetch(`${base}/health/ready`);
    if (early.status === 503) {
      const report = (await early.json()) as any;
      expect(report.checks.startup).toBe(false);
    }
    await service.waitFor(/"msg":"GraphQL API ready"/, 300_000);
    const ready = await fetch(`${base}/health/ready`);
    expect(ready.status).toBe(200);
    expect(((await ready.json()) as any).checks).toEqual({ startup: true, database: true, migrations: true, models: true });

    const post = (query: string) =>
      fetch(`${base}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query }) }).then(async (r) => ({
        status: r.status,
        body: (await r.json()) as any,
      }));
    const ids: string[] = (await post('{ customers(first: 5) { edges { node { id } } } }')).body.data.customers.edges.map((e: any) => e.node.id);
    const inFlight = ids.map((id) => post(`{ customer(id: "${id}") { id segment probability } }`));
    // Wait until all five are queued for inference (the server's own queue gauge).
    const queued = async () => Number(/inference_queue_rows\{model="xgboost-segment"\} (\d+)/.exec(await (await fetch(`${base}/metrics`)).text())?.[1]);
    while ((await queued()) < ids.length) await new Promise((r) => setTimeout(r, 50));
    const signalledAt = Date.now();
    service.child.kill('SIGTERM');
    const answers = await Promise.all(inFlight);
    for (const a of answers) {
      expect(a.status).toBe(200);
      expect(a.body.errors).toBeUndefined();
      expect(a.body.data.customer.segment).toMatch(/^(lapsing|active|high_value)$/);
    }
    const { code } = await service.exited;
    expect(code).toBe(0);
    // Draining runs the queued requests at once: it waited neither for the 60 s queue delay nor for
    // the 120 s grace.
    expect(Date.now() - signalledAt).toBeLessThan(60_000);
    expect(service.lines.some((l) => l.includes('"msg":"stopped"'))).toBe(true);
    // After shutdown nothing listens any more.
    await expect(fetch(`${base}/health/live`)).rejects.toThrow();
  });

  it('`npm start` hands SIGTERM to the server: it drains and stops, and no server is left running', { timeout: 600_000 }, async () => {
    const own = await mkdtemp(path.join(os.tmpdir(), 'cia-npm-start-'));
    // npm runs the start script through `sh -c`; without `exec` there, npm's SIGTERM stopped only the
    // shell and left the server running, holding its port and its DATA_DIR. (--ignore-scripts: the
    // dashboard build of prestart is not what this is about.)
    const npm = startProcess('npm', ['start', '--ignore-scripts'], { DATA_DIR: path.join(own, 'db'), PORT: '0', LOG_LEVEL: 'info', DEMO_CUSTOMERS: '200', BACKGROUND_SCORING: 'off' });
    let server = 0;
    try {
      const ready = await npm.waitFor(/"msg":"GraphQL API ready"/, 300_000);
      server = Number(ready.pid);
      expect(server).not.toBe(npm.child.pid);
      const base = String(ready.url).replace('/graphql', '');
      expect((await fetch(`${base}/health/live`)).status).toBe(200);
      npm.child.kill('SIGTERM');
      // The server's own last line (it never comes when the signal stops at the shell).
      const stopped = await npm.waitFor(/"msg":"stopped"/, 120_000);
      expect(stopped.pid).toBe(server);
      // Its output closes when the server process is gone.
      await npm.exited;
      expect(() => process.kill(server, 0)).toThrow(/ESRCH/);
      await expect(fetch(`${base}/health/live`)).rejects.toThrow();
    } finally {
      npm.child.kill('SIGKILL');
      if (server) {
        try {
          process.kill(server, 'SIGKILL');
        } catch {
          // gone, as it should be
        }
      }
      await rm(own, { recursive: true, force: true });
    }
  });
});
