// `npm run apikey -- create --role admin|bi|frontend [--customer <id or externalId>] [--name x]`
// `npm run apikey -- list` · `npm run apikey -- revoke <id or prefix>`
// Works on the configured database (DATABASE_URL or the embedded one), migrating it first. The key
// is printed once, on stdout (everything else on stderr); only its sha256 is stored.
import 'reflect-metadata';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config.js';
import { commandDatabase, openDatabase } from '../db/client.js';
import { applyMigrations } from '../db/migrate.js';
import { ApiKeyError, createApiKey, listApiKeys, revokeApiKey } from './api-keys.js';

const usage = 'Usage: npm run apikey -- create --role admin|bi|frontend [--customer <id or externalId>] [--name <label>] | list | revoke <id or prefix>';

class UsageError extends Error {}

async function main(): Promise<number> {
  const [command, ...rest] = process.argv.slice(2);
  if (!command || !['create', 'list', 'revoke'].includes(command)) throw new UsageError(usage);
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: { role: { type: 'string' }, customer: { type: 'string' }, name: { type: 'string' }, json: { type: 'boolean' } },
  });
  const config = loadConfig();
  const db = await openDatabase(commandDatabase(config, 'npm run apikey'));
  try {
    await applyMigrations(db.adapterFactory);
    if (command === 'create') {
      if (!values.role) throw new UsageError(usage);
      const created = await createApiKey(db, { role: values.role, customer: values.customer, name: values.name });
      if (values.json) console.log(JSON.stringify(created));
      else {
        console.error(`Created ${created.role} key ${created.id}${created.customerExternalId ? ` for customer ${created.customerExternalId}` : ''}. It is shown only once:`);
        console.log(created.key);
      }
    } else if (command === 'list') {
      const keys = await listApiKeys(db);
      if (values.json) console.log(JSON.stringify(keys));
      else if (keys.length === 0) console.error('No API keys.');
      else
        console.table(
          keys.map((k) => ({ id: k.id, prefix: k.prefix, role: k.role, name: k.name ?? '', customer: k.customer ?? '', created: k.createdAt.toISOString(), revoked: k.revokedAt?.toISOString() ?? '' })),
        );
    } else {
      const target = positionals[0];
      if (!target) throw new UsageError(usage);
      if (!(await revokeApiKey(db, target))) {
        console.error(`No active key with id or prefix ${target}.`);
        return 1;
      }
      console.error(`Revoked ${target} (running servers stop accepting it within AUTH_CACHE_TTL_SECONDS=${config.AUTH_CACHE_TTL_SECONDS}).`);
    }
    return 0;
  } finally {
    await db.close();
  }
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    const known = err instanceof UsageError || err instanceof ApiKeyError || err.name === 'ConfigError' || err.name === 'DataDirInUseError';
    console.error(known ? err.message : err);
    process.exit(err instanceof UsageError ? 2 : 1);
  },
);
