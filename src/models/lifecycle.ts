// Keeps a running server in step with the model repository and the promotions on record, without
// a restart. Every MODELS_POLL_SECONDS: load version folders that appeared (a training run), read
// the "ModelPromotion" table, and switch each model's default to its promoted version. Requests
// already running keep the LoadedModel (and ONNX session) they resolved; the prediction cache is
// keyed by the model's identity (name@version#sha256), so nothing computed by the old version is
// served as the new one. After a switch — and at start-up when the stored scores are not of the
// served version — a batch-scoring run for the served version starts in the background, so the
// score filters, PROBABILITY ordering and segmentSummary agree with the live segment again.
import type { Logger } from 'pino';
import type { Database } from '../db/client.js';
import type { LoadedModel, PromotionChange } from '../inference/registry.js';
import { scoreCustomers, ScoreRunConflictError } from '../scoring/batch.js';
import type { Scoring } from '../scoring/scoring.js';
import { readPromotions } from './promotions.js';

export interface LifecycleOptions {
  /** Seconds between polls; 0 = no polling (promotions through this process's mutation still apply). */
  pollSeconds: number;
  /** Score stale or missing stored scores in the background. */
  backgroundScoring: boolean;
  /** SCORING_AS_OF=data-end: score at the last paid order in the database. */
  scoreAtDataEnd: boolean;
  /** Customers per page of background scoring. */
  scorePageSize?: number;
}

/** The instant of the last paid order (null when there is none). */
export async function lastPaidOrderAt(db: Database): Promise<Date | null> {
  const [row] = await db.prisma.$queryRaw<{ last: Date | null }[]>`SELECT max("orderedAt") AS "last" FROM "Order" WHERE "status" = 'paid'`;
  return row?.last ?? null;
}

export class ModelLifecycle {
  private timer: NodeJS.Timeout | null = null;
  private syncing: Promise<PromotionChange[]> | null = null;
  private readonly controller = new AbortController();
  /** Background scoring runs in flight, by model name. */
  private readonly scoringRuns = new Map<string, Promise<void>>();
  /** Promotions already reported as not followable (their version is missing here). */
  private readonly missing = new Set<number>();

  constructor(
    private readonly db: Database,
    private readonly scoring: Scoring,
    private readonly log: Logger,
    private readonly options: LifecycleOptions,
  ) {
    scoring.syncModels = () => this.sync().then(() => undefined);
  }

  /** Start-up: resolve SCORING_AS_OF=data-end, apply the promotions on record, score what is stale, then poll. */
  async start(): Promise<void> {
    await this.resolveDataEnd();
    await this.sync();
    if (this.options.backgroundScoring) for (const name of await this.modelsToScore()) this.scoreInBackground(this.scoring.model(name));
    if (this.options.pollSeconds > 0) {
      this.timer = setInterval(() => void this.sync().catch((err: Error) => this.log.warn({ err: err.message }, 'model repository poll failed')), this.options.pollSeconds * 1000);
      this.timer.unref();
    }
  }

  /** One poll: new version folders, then promotions. Concurrent calls share one pass. */
  sync(): Promise<PromotionChange[]> {
    this.syncing ??= this.syncOnce().finally(() => {
      this.syncing = null;
    });
    return this.syncing;
  }

  private async syncOnce(): Promise<PromotionChange[]> {
    const registry = this.scoring.inference.registry;
    const added = await registry.refresh((err) => this.log.error({ err: err.message }, 'model version not loaded'));
    for (const m of added) {
      const method = this.scoring.methodOf(m);
      this.log.info({ model: m.name, version: m.version, identity: m.identity, explanation: method }, 'model version loaded');
    }
    const promotions = await readPromotions(this.db);
    const changes = registry.applyPromotions(promotions);
    // A promotion of a version this server does not have (its files not deployed here) cannot be followed.
    for (const name of registry.names()) {
      const latest = promotions.filter((p) => p.model === name).at(-1);
      if (latest && !registry.get(name, latest.version) && !this.missing.has(latest.id)) {
        this.missing.add(latest.id);
        this.log.warn({ model: name, version: latest.version, promotionId: latest.id }, `promoted ${name} version ${latest.version} is not in MODELS_DIR here; still serving version ${registry.get(name)!.version}`);
      }
    }
    if (changes.length === 0) return changes;
    await this.resolveDataEnd();
    for (const c of changes) {
      this.log.info({ event: 'model.switched', model: c.name, from: c.from, to: c.to }, `serving ${c.name} version ${c.to} (was ${c.from ?? 'none'})`);
    }
    if (this.options.backgroundScoring) {
      const toScore = new Set(await this.modelsToScore());
      for (const c of changes) if (toScore.has(c.name)) this.scoreInBackground(this.scoring.model(c.name));
    }
    return changes;
  }

  private async resolveDataEnd(): Promise<void> {
    if (!this.options.scoreAtDataEnd) return;
    const last = await lastPaidOrderAt(this.db);
    this.scoring.setFixedAsOf(last ?? undefined);
    this.log.info({ asOf: last?.toISOString() ?? null }, 'SCORING_AS_OF=data-end: scoring at the last paid order');
  }

  /** DEFAULT_MODEL, and any other model with stored scores, whose stored scores are not all of the served version. */
  private async modelsToScore(): Promise<string[]> {
    const registry = this.scoring.inference.registry;
    const rows = await this.db.prisma.$queryRaw<{ model: string; modelVersion: string }[]>`
      SELECT DISTINCT "model", "modelVersion" FROM "CustomerScore"`;
    const finished = await this.db.prisma.$queryRaw<{ model: string; modelVersion: string }[]>`
      SELECT DISTINCT "model", "modelVersion" FROM "ScoreRun" WHERE "status" = 'finished'`;
    const [{ customers }] = await this.db.prisma.$queryRaw<{ customers: number }[]>`SELECT count(*)::int AS "customers" FROM "Customer"`;
    if (customers === 0) return [];
    const names = new Set([this.scoring.defaultModel, ...rows.map((r) => r.model)].filter((n) => registry.get(n)));
    return [...names].filter((name) => {
      const served = registry.get(name)!.version;
      const stale = rows.some((r) => r.model === name && r.modelVersion !== served);
      const done = finished.some((r) => r.model === name && r.modelVersion === served);
      return stale || !done;
    });
  }

  /** Scores every customer with this version in the background (resumes an unfinished run of it). */
  private scoreInBackground(model: LoadedModel): void {
    const previous = this.scoringRuns.get(model.name) ?? Promise.resolve();
    const run = previous.then(async () => {
      if (this.controller.signal.aborted || this.scoring.inference.registry.get(model.name) !== model) return; // superseded meanwhile
      const started = Date.now();
      this.log.info({ model: model.name, version: model.version }, 'background scoring started');
      try {
        const options = {
          model: model.name,
          version: model.version,
          // Small pages keep each write short: the embedded database runs one statement at a time, so
          // requests wait behind a page, and shutdown waits for the page in progress.
          pageSize: this.options.scorePageSize ?? (this.db.kind === 'pglite' ? 500 : 2000),
          signal: this.controller.signal,
        };
        let summary = await scoreCustomers(this.db, this.scoring, options);
        // Back to a version that already finished a run at this scoring time (a rollback): its scores
        // were overwritten since, so that run is scored again.
        if (summary.outcome === 'alreadyFinished' && (await this.hasOtherVersionScores(model))) {
          summary = await scoreCustomers(this.db, this.scoring, { ...options, restart: true });
        }
        this.log.info({ model: model.name, version: model.version, outcome: summary.outcome, scored: summary.scored, seconds: (Date.now() - started) / 1000 }, 'background scoring done');
      } catch (err) {
        if (err instanceof ScoreRunConflictError) this.log.info({ model: model.name, version: model.version }, 'background scoring left to another process');
        else this.log.error({ model: model.name, version: model.version, err: (err as Error).message }, 'background scoring failed');
      }
    });
    this.scoringRuns.set(model.name, run);
  }

  private async hasOtherVersionScores(model: LoadedModel): Promise<boolean> {
    const [row] = await this.db.prisma.$queryRaw<{ stale: boolean }[]>`
      SELECT EXISTS (SELECT 1 FROM "CustomerScore" WHERE "model" = ${model.name} AND "modelVersion" <> ${model.version}) AS "stale"`;
    return row.stale;
  }

  /** Resolves when the background scoring runs started so far are done (tests, shutdown). */
  async idle(): Promise<void> {
    await Promise.all(this.scoringRuns.values());
  }

  /** Stops polling; a background run stops after its page in progress (resumable). */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.controller.abort();
    await this.syncing?.catch(() => {});
    await this.idle();
  }
}
