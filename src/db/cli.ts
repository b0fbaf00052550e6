// `npm run db:migrate` applies committed migrations to the configured database;
// `npm run db:migration -- --name x` writes a new migration from the schema.prisma diff
// (computed on an in-memory PGlite shadow database, so no server is needed).
import { parseArgs } from 'node:util';
import { loadConfig } from '../config.js';
import { commandDatabase, openDatabase } from './client.js';
import { prepareTemplate, templateDir } from './initdb.js';
import { applyMigrations, createMigration } from './migrate.js';

async function main() {
  const [command, ...rest] = process.argv.slice(2);
  if (command === 'migrate') {
    const cfg = loadConfig();
    const db = await openDatabase(commandDatabase(cfg, 'npm run db:migrate'));
    try {
      const applied = await applyMigrations(db.adapterFactory);
      console.log(applied.length ? `Applied: ${applied.join(', ')}` : 'Database is up to date.');
    } finally {
      await db.close();
    }
  } else if (command === 'migration') {
    const { values } = parseArgs({ args: rest, options: { name: { type: 'string' } } });
    if (!values.name) throw new Error('Usage: npm run db:migration -- --name <snake_case_name>');
    const shadow = await openDatabase({ dataDir: 'memory://' });
    try {
      const dir = await createMigration(shadow.adapterFactory, values.name);
      console.log(dir ? `Created ${dir}` : 'schema.prisma matches the migrations: nothing to do.');
    } finally {
      await shadow.close();
    }
  } else if (command === 'template') {
    // postinstall: the empty embedded database, made once so that a first start copies it instead
    // of running initdb. Never fails the install: without it the first start runs initdb itself.
    const started = performance.now();
    try {
      const made = await prepareTemplate();
      console.log(`${made ? 'Prepared' : 'Found'} the empty embedded database in ${await templateDir()} (${((performance.now() - started) / 1000).toFixed(1)} s).`);
    } catch (err) {
      console.warn(`Could not prepare the embedded database template (a first start will run initdb): ${(err as Error).message}`);
    }
  } else {
    throw new Error('Usage: db/cli.ts migrate | migration --name <name> | template');
  }
}

main().catch((err: Error) => {
  console.error(err.message);
  process.exit(1);
});
