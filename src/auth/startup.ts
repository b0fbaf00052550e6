// Start-up checks of the authentication set-up (README "Security").
import type { Logger } from 'pino';
import { ConfigError, type Config } from '../config.js';
import type { Database } from '../db/client.js';
import { isDatabaseUnavailable } from '../db/errors.js';
import { countActiveApiKeys } from './api-keys.js';

/**
 * AUTH_MODE=off: one loud warning. Production (AUTH_MODE=required): refuses to start while the
 * database holds no active API key — nobody could use the service. When the database cannot be
 * reached the check is skipped with a warning (requests are refused anyway until it returns).
 */
export async function checkAuthAtStartup(config: Config, db: Database, log: Logger): Promise<void> {
  if (config.authMode === 'off') {
    log.warn(
      { AUTH_MODE: 'off', NODE_ENV: config.NODE_ENV },
      '!!! AUTHENTICATION IS OFF: requests without credentials are treated as admin. Never expose this server; set AUTH_MODE=required (the default with NODE_ENV=production). !!!',
    );
    return;
  }
  if (config.NODE_ENV !== 'production') return;
  let active: number;
  try {
    active = await countActiveApiKeys(db);
  } catch (err) {
    if ((err as { code?: string }).code === 'P2021') active = 0; // no ApiKey table yet: never migrated
    else if (isDatabaseUnavailable(err)) {
      log.warn('could not count API keys (database unavailable); starting anyway — requests need a valid key');
      return;
    } else throw err;
  }
  if (active === 0) {
    throw new ConfigError(
      'Invalid configuration:\n  AUTH_MODE: required (the default with NODE_ENV=production) but the database has no active API key.\n' +
        '  Create one first: NODE_ENV=production npm run apikey -- create --role admin --name ops (with the same DATABASE_URL)',
    );
  }
  log.info({ activeApiKeys: active }, 'authentication: API keys required');
}
