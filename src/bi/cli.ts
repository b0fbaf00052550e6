// `npm run bi -- grant --role <name> [--password-env VAR]`: a read-only PostgreSQL login that sees
// only the `bi` schema (views over customers, orders, stored scores and scoring runs, personal data
// masked as for the bi API role). `revoke --role <name>` takes it away; `sql` prints the views' SQL
// (what the committed migration must contain). Needs DATABASE_URL: BI tools connect to a server.
import 'reflect-metadata';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { loadConfig } from '../config.js';
import { openDatabase } from '../db/client.js';
import { applyMigrations } from '../db/migrate.js';
import { biViewsSql, grantStatements, revokeStatements } from './views.js';

const usage = 'Usage: npm run bi -- grant --role <name> [--password-env <VAR>] | revoke --role <name> | sql';

class UsageError extends Error {}

async function main(): Promise<number> {
  const [command, ...rest] = process.argv.slice(2);
  if (command === 'sql') {
    process.stdout.write(biViewsSql());
    return 0;
  }
  if (command !== 'grant' && command !== 'revoke') throw new UsageError(usage);
  const { values } = parseArgs({ args: rest, options: { role: { type: 'string' }, 'password-env': { type: 'string' } } });
  if (!values.role) throw new UsageError(usage);
  const config = loadConfig();
  if (!config.DATABASE_URL) {
    throw new UsageError('BI roles live on a PostgreSQL server: set DATABASE_URL (the embedded database takes no outside connections).');
  }
  let password: string | undefined;
  if (values['password-env']) {
    password = process.env[values['password-env']];
    if (!password) throw new UsageError(`--password-env ${values['password-env']}: that environment variable is empty or unset.`);
  }
  // The views come with the migrations; apply them first so a grant never refers to a missing schema.
  const db = await openDatabase({ databaseUrl: config.DATABASE_URL, poolSize: 1 });
  try {
    await applyMigrations(db.adapterFactory);
  } finally {
    await db.close();
  }
  const client = new pg.Client({ connectionString: config.DATABASE_URL });
  await client.connect();
  try {
    const database = (await client.query<{ db: string }>('select current_database() as db')).rows[0].db;
    const statements = command === 'grant' ? grantStatements(values.role, database, password) : revokeStatements(values.role, database);
    await client.query('BEGIN');
    for (const sql of statements) await client.query(sql);
    await client.query('COMMIT');
    console.error(
      command === 'grant'
        ? `Role ${values.role} can now read the bi schema of ${database} (read-only; base tables not granted).`
        : `Role ${values.role} no longer reads ${database}.`,
    );
    return 0;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    await client.end();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof UsageError) {
      console.error(err.message);
      process.exit(2);
    }
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  },
);
