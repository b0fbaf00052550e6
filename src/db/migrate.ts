// Applies and creates migrations with Prisma's own schema engine, built to WebAssembly.
// The `prisma` CLI would download a native engine at start-up, which fails offline; the WASM build
// talks to the database through the same driver adapter the client uses and writes the standard
// `_prisma_migrations` table, so `prisma migrate deploy` elsewhere sees the same history.
import { readFile, readdir, mkdir, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { SqlMigrationAwareDriverAdapterFactory } from '@prisma/driver-adapter-utils';
import { bindMigrationAwareSqlAdapterFactory } from '@prisma/driver-adapter-utils';

const require = createRequire(import.meta.url);
const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const schemaPath = path.join(projectRoot, 'prisma/schema.prisma');
export const migrationsDir = path.join(projectRoot, 'prisma/migrations');

type Engine = {
  applyMigrations(input: unknown): Promise<{ appliedMigrationNames: string[] }>;
  diff(input: unknown): Promise<{ exitCode: number; stdout: string | null }>;
  free(): void;
};
type EngineModule = {
  SchemaEngine: { new: (opts: unknown, log: (msg: string) => void, adapter: object) => Promise<Engine> };
};

let engineModule: Promise<EngineModule> | undefined;

/** The package is ESM built for bundlers (it imports the .wasm file); instantiate it by hand. */
function loadEngineModule(): Promise<EngineModule> {
  engineModule ??= (async () => {
    const bgFile = require.resolve('@prisma/schema-engine-wasm/schema_engine_bg');
    const bg = await import(pathToFileURL(bgFile).href);
    const dir = path.dirname(bgFile);
    // `WebAssembly` is a Node global that the ES lib typings do not declare.
    const wasm = (globalThis as unknown as { WebAssembly: { instantiate(b: Uint8Array, i: object): Promise<{ instance: { exports: object } }> } }).WebAssembly;
    // The engine arms 10 s timers (lock and connection timeouts) that would keep a finished CLI
    // command alive; unref them so only real work holds the process open.
    const imports: Record<string, unknown> = { ...bg };
    for (const name of Object.keys(bg).filter((n) => n.startsWith('__wbg_setTimeout_'))) {
      imports[name] = (fn: () => void, ms: number) => setTimeout(fn, ms >>> 0).unref();
    }
    const { instance } = await wasm.instantiate(await readFile(path.join(dir, 'schema_engine_bg.wasm')), {
      './schema_engine_bg.js': imports,
    });
    bg.__wbg_set_wasm(instance.exports);
    (instance.exports as { __wbindgen_start?: () => void }).__wbindgen_start?.();
    return bg as EngineModule;
  })();
  return engineModule;
}

const noFilters = { externalTables: [], externalEnums: [] };

/**
 * @prisma/adapter-pg runs a migration script by splitting it on every ";", which cuts PL/pgSQL
 * function bodies (the change-notification triggers) in pieces. Send the script whole instead, as
 * one simple-protocol query: PostgreSQL runs its statements in order in one implicit transaction,
 * as Prisma's native engine (`prisma migrate deploy`) does.
 */
function wholeScripts<A extends { executeScript(script: string): Promise<void>; executeRaw(q: { sql: string; args: unknown[]; argTypes: unknown[] }): Promise<number> }>(adapter: A): A {
  if ((adapter as { adapterName?: string }).adapterName !== '@prisma/adapter-pg') return adapter;
  adapter.executeScript = async (script: string) => {
    await adapter.executeRaw({ sql: script, args: [], argTypes: [] });
  };
  return adapter;
}

/**
 * Runs `fn` with a schema engine over the given adapter. The engine opens its own connections
 * (for pg: a pool each) and `free()` does not close them; we track and dispose them, or an idle
 * pool would keep the process alive after a CLI command has finished.
 */
async function withEngine<T>(adapterFactory: SqlMigrationAwareDriverAdapterFactory, fn: (engine: Engine) => Promise<T>): Promise<T> {
  const { SchemaEngine } = await loadEngineModule();
  const opened: { dispose(): Promise<void> }[] = [];
  const track = async <A extends { dispose(): Promise<void> }>(adapter: Promise<A>) => {
    const a = await adapter;
    opened.push(a);
    return a;
  };
  const tracked: SqlMigrationAwareDriverAdapterFactory = {
    provider: adapterFactory.provider,
    adapterName: adapterFactory.adapterName,
    connect: () => track(adapterFactory.connect().then(wholeScripts)),
    connectToShadowDb: () => track(adapterFactory.connectToShadowDb()),
  };
  const engine = await SchemaEngine.new(
    { datamodels: [[schemaPath, await readFile(schemaPath, 'utf8')]] },
    () => {},
    bindMigrationAwareSqlAdapterFactory(tracked),
  );
  try {
    return await fn(engine);
  } finally {
    engine.free();
    await Promise.all(opened.map((a) => a.dispose().catch(() => {})));
  }
}

async function readMigrationList() {
  const entries = await readdir(migrationsDir, { withFileTypes: true }).catch(() => []);
  const dirs = entries.filter((e) => e.isDirectory()).map((e) => e.name).sort();
  const migrationDirectories = await Promise.all(
    dirs.map(async (name) => {
      const file = path.join(migrationsDir, name, 'migration.sql');
      const content = await readFile(file, 'utf8').then(
        (ok) => ({ tag: 'ok', value: ok }),
        (err: Error) => ({ tag: 'error', value: err.message }),
      );
      return { path: name, migrationFile: { path: 'migration.sql', content } };
    }),
  );
  const lockPath = path.join(migrationsDir, 'migration_lock.toml');
  return {
    baseDir: migrationsDir,
    lockfile: { path: 'migration_lock.toml', content: await readFile(lockPath, 'utf8').catch(() => null) },
    shadowDbInitScript: '',
    migrationDirectories,
  };
}

/** Names of the committed migrations, in order. */
export async function committedMigrationNames(): Promise<string[]> {
  return (await readMigrationList()).migrationDirectories.map((d) => d.path);
}

/**
 * Applies every committed migration not yet recorded in `_prisma_migrations`. Idempotent.
 * The engine serialises migrators with a PostgreSQL advisory lock and gives up after 10 s (P1002);
 * replicas starting together on a busy host can wait longer than that, so a timed-out wait is
 * retried (the other migrator has finished or is finishing).
 */
export async function applyMigrations(adapterFactory: SqlMigrationAwareDriverAdapterFactory, attempts = 6): Promise<string[]> {
  const migrationsList = await readMigrationList();
  for (let attempt = 1; ; attempt++) {
    try {
      return await withEngine(adapterFactory, async (engine) => {
        const { appliedMigrationNames } = await engine.applyMigrations({ migrationsList, filters: noFilters });
        return appliedMigrationNames;
      });
    } catch (err) {
      if ((err as { code?: string }).code !== 'P1002' || attempt >= attempts) throw err;
    }
  }
}

/**
 * Writes prisma/migrations/<timestamp>_<name>/migration.sql with the SQL that takes the committed
 * migrations to the current schema.prisma (replayed on a shadow database of the given adapter).
 * Returns the new folder, or null when the schema has no changes.
 */
export async function createMigration(
  adapterFactory: SqlMigrationAwareDriverAdapterFactory,
  name: string,
): Promise<string | null> {
  if (!/^[a-z0-9_]+$/i.test(name)) throw new Error(`Migration name must match [A-Za-z0-9_]+, got "${name}"`);
  const migrations = await readMigrationList();
  return withEngine(adapterFactory, async (engine) => {
    const { stdout } = await engine.diff({
      from: migrations.migrationDirectories.length ? { tag: 'migrations', ...migrations } : { tag: 'empty' },
      to: { tag: 'schemaDatamodel', files: [{ path: schemaPath, content: await readFile(schemaPath, 'utf8') }] },
      script: true,
      exitCode: null,
      filters: noFilters,
    });
    const sql = (stdout ?? '').trim();
    if (!sql || sql === '-- This is an empty migration.') return null;
    const stamp = new Date().toISOString().replace(/\D/g, '').slice(0, 14);
    const dir = path.join(migrationsDir, `${stamp}_${name}`);
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, 'migration.sql'), sql + '\n');
    if (migrations.lockfile.content === null) {
      await writeFile(
        path.join(migrationsDir, 'migration_lock.toml'),
        '# Please do not edit this file manually\n# It should be added in your version-control system (e.g., Git)\nprovider = "postgresql"\n',
      );
    }
    return dir;
  });
}
