// Promotions of model versions: an append-only table ("ModelPromotion"); the newest row per model
// names the version every server serves by default. Written by the quality gate (npm run train),
// `npm run models -- promote` and the admin mutation `promoteModel`; read by every server's poll.
import { access } from 'node:fs/promises';
import path from 'node:path';
import type { Database } from '../db/client.js';
import { isVersionFolder, type PromotionRecord } from '../inference/registry.js';

export interface Promotion extends PromotionRecord {
  id: number;
  promotedAt: Date;
  promotedBy: string;
  reason: string;
}

/** Every promotion, oldest first (a handful of rows per model and training run). */
export function readPromotions(db: Database): Promise<Promotion[]> {
  return db.prisma.$queryRaw<Promotion[]>`
    SELECT "id", "model", "version", "promotedAt", "promotedBy", "reason" FROM "ModelPromotion" ORDER BY "id"`;
}

export class PromotionError extends Error {
  override name = 'PromotionError';
}

/** Throws PromotionError unless MODELS_DIR/<model>/<version>/model.json exists. */
export async function assertVersionExists(modelsDir: string, model: string, version: string): Promise<void> {
  if (!/^[\w.-]{1,100}$/.test(model)) throw new PromotionError(`"${model}" is not a model name`);
  if (!isVersionFolder(version)) throw new PromotionError(`"${version}" is not a version (a positive integer, e.g. 2)`);
  const card = path.join(modelsDir, model, version, 'model.json');
  await access(card).catch(() => {
    throw new PromotionError(`${model} has no version ${version} (no ${card})`);
  });
}

/** Appends a promotion; the caller logs it (audit). */
export async function recordPromotion(db: Database, p: { model: string; version: string; promotedBy: string; reason: string }): Promise<Promotion> {
  const [row] = await db.prisma.$queryRaw<Promotion[]>`
    INSERT INTO "ModelPromotion" ("model", "version", "promotedBy", "reason")
    VALUES (${p.model}, ${p.version}, ${p.promotedBy}, ${p.reason})
    RETURNING "id", "model", "version", "promotedAt", "promotedBy", "reason"`;
  return row;
}
