// Liveness and readiness. The process listens before migrations and seeding finish, so /health/live
// answers at once; /health/ready answers 200 only when start-up work is done, every committed
// migration is applied, the database answers and every model is loaded and still answers a
// one-row inference (re-run on each check, so a released or broken session makes it unready).
import type { Database } from '../db/client.js';
import { committedMigrationNames } from '../db/migrate.js';
import type { Scoring } from '../scoring/scoring.js';

export interface ReadinessReport {
  ready: boolean;
  checks: { startup: boolean; database: boolean; migrations: boolean; models: boolean };
  database: string;
  models: number;
  /** Models whose probe inference failed (name and first error line); absent when all serve. */
  unhealthyModels?: { model: string; problem: string }[];
}

const withTimeout = <T>(p: Promise<T>, ms: number) =>
  Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timeout')), ms).unref())]);

export class Readiness {
  private started = false;
  private expectedMigrations: string[] | undefined;
  private probing: Promise<{ model: string; problem: string }[]> | undefined;

  constructor(
    private readonly db: Database,
    private readonly scoring: Scoring,
    startedAlready = false,
  ) {
    this.started = startedAlready;
  }

  /** Start-up work (migrations, seeding) is done. */
  markStarted(): void {
    this.started = true;
  }

  get isStarted(): boolean {
    return this.started;
  }

  async check(): Promise<ReadinessReport> {
    this.expectedMigrations ??= await committedMigrationNames();
    let database = false;
    let migrations = false;
    try {
      const applied = await withTimeout(
        this.db.prisma.$queryRaw<{ migration_name: string }[]>`
          SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL`,
        2_000,
      );
      database = true;
      const names = new Set(applied.map((r) => r.migration_name));
      migrations = this.expectedMigrations.every((m) => names.has(m));
    } catch {
      // database stays false; the table missing (fresh database) also means migrations are not applied
      database = await withTimeout(this.db.prisma.$queryRaw`SELECT 1`, 2_000).then(() => true, () => false);
    }
    // Every model must still answer a one-row inference (a released or broken session does not).
    const registry = this.scoring.inference.registry;
    const models = registry.list();
    // Concurrent checks share one probe, so frequent polling cannot pile inferences up.
    this.probing ??= withTimeout(registry.probe(), 5_000)
      .catch((err: Error) => models.map((m) => ({ model: m.name, problem: `probe inference: ${err.message}` })))
      .finally(() => (this.probing = undefined));
    const unhealthy = await this.probing;
    const checks = { startup: this.started, database, migrations, models: models.length > 0 && unhealthy.length === 0 };
    return {
      ready: Object.values(checks).every(Boolean),
      checks,
      database: this.db.kind,
      models: models.length,
      ...(unhealthy.length ? { unhealthyModels: unhealthy } : {}),
    };
  }
}
