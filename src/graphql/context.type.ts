import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { Database } from '../db/client.js';
import type { Scoring } from '../scoring/scoring.js';
import type { Principal } from '../auth/principal.js';
import type { Loaders } from './loaders.js';
import type { PredictionLoaders } from './prediction/prediction.loaders.js';

/** Built once per HTTP request by the server's context factory; loaders never outlive it. */
export interface Context {
  db: Database;
  config: Config;
  loaders: Loaders;
  predictionLoaders: PredictionLoaders;
  scoring: Scoring;
  log: Logger;
  requestId: string;
  /** Who is asking (authenticated before GraphQL runs); field-policy.ts authorizes every field with it. */
  principal: Principal;
}
