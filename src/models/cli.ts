// `npm run models -- list` — every version in MODELS_DIR with its status (from the promotions on
// record in the configured database), held-out log loss and quality-gate verdict.
// `npm run models -- promote <name> <version>` — serve that version from now on: a row in
// "ModelPromotion" (audit: who, when, why) and a log line; running servers switch within
// MODELS_POLL_SECONDS. Exit codes: 0 done, 1 failed, 2 usage error (unknown model or version).
import { readdir, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { loadConfig } from '../config.js';
import { openDatabase } from '../db/client.js';
import { applyMigrations } from '../db/migrate.js';
import { choosePromoted, gatePassed, isVersionFolder, statusOf, type ModelCard } from '../inference/registry.js';
import { assertVersionExists, PromotionError, readPromotions, recordPromotion } from './promotions.js';

const USAGE = `Usage: npm run models -- list
       npm run models -- promote <name> <version>`;

class UsageError extends Error {}

async function cards(modelsDir: string): Promise<Map<string, Map<string, ModelCard>>> {
  const out = new Map<string, Map<string, ModelCard>>();
  for (const name of (await readdir(modelsDir, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name).sort()) {
    const versions = new Map<string, ModelCard>();
    for (const v of (await readdir(path.join(modelsDir, name), { withFileTypes: true })).filter((e) => e.isDirectory() && isVersionFolder(e.name))) {
      const text = await readFile(path.join(modelsDir, name, v.name, 'model.json'), 'utf8').catch(() => null);
      if (text) versions.set(v.name, JSON.parse(text) as ModelCard);
    }
    if (versions.size) out.set(name, new Map([...versions].sort(([a], [b]) => Number(a) - Number(b))));
  }
  return out;
}

async function main(): Promise<number> {
  const [command, ...args] = process.argv.slice(2);
  if (command !== 'list' && command !== 'promote') throw new UsageError(command ? `unknown command "${command}"` : 'a command is needed');
  const cfg = loadConfig();
  const log = pino({ level: cfg.LOG_LEVEL === 'silent' ? 'silent' : 'info' }, pino.destination(2));
  const db = await openDatabase({ databaseUrl: cfg.DATABASE_URL, dataDir: cfg.dataDir, poolSize: 1 });
  try {
    await applyMigrations(db.adapterFactory);
    if (command === 'promote') {
      const [name, version] = args;
      if (!name || !version || args.length !== 2) throw new UsageError('promote needs <name> <version>');
      try {
        await assertVersionExists(cfg.MODELS_DIR, name, version);
      } catch (err) {
        if (err instanceof PromotionError) throw new UsageError(err.message);
        throw err;
      }
      const by = `cli (${os.userInfo().username}@${os.hostname()})`;
      const row = await recordPromotion(db, { model: name, version, promotedBy: by, reason: 'manual (npm run models -- promote)' });
      log.info({ event: 'model.promoted', model: name, version, promotedBy: by, promotionId: row.id }, `model ${name} version ${version} promoted`);
      console.log(`${name} version ${version} promoted; running servers switch within MODELS_POLL_SECONDS (${cfg.MODELS_POLL_SECONDS} s).`);
      return 0;
    }
    const promotions = await readPromotions(db);
    console.log(['model', 'version', 'status', 'log loss', 'gate', 'created'].join('\t'));
    for (const [name, versions] of await cards(cfg.MODELS_DIR)) {
      const promoted = choosePromoted(name, versions, promotions);
      const everPromoted = new Set(promotions.filter((p) => p.model === name).map((p) => p.version));
      for (const [v, card] of versions) {
        const status = statusOf(v, promoted, everPromoted);
        const ll = (card.metrics_held_out as { log_loss?: number } | undefined)?.log_loss;
        const gate = card.gate ? (gatePassed(card) ? 'passed' : 'failed') : '–';
        console.log([name, v, status, ll?.toFixed(4) ?? '–', gate, String(card.created ?? '–')].join('\t'));
      }
    }
    return 0;
  } finally {
    await db.close();
  }
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    console.error(err instanceof UsageError ? `${err.message}\n${USAGE}` : err.message);
    process.exit(err instanceof UsageError ? 2 : 1);
  },
);
