// Query.models (every loaded version with its status, metrics and baselines) and the admin
// mutation promoteModel (audited: a row in "ModelPromotion" and a log line with the caller).
import { Arg, Ctx, Mutation, Query, Resolver } from 'type-graphql';
import type { LoadedModel } from '../../inference/registry.js';
import { classDefinition, horizonDays } from '../../models/card.js';
import { describeDecisionRule } from '../../scoring/decision.js';
import { assertVersionExists, PromotionError, readPromotions, recordPromotion } from '../../models/promotions.js';
import type { Context } from '../context.type.js';
import { badInput } from '../errors.js';
import { ModelInfo } from '../prediction/prediction.type.js';
import { modelEvaluation } from './evaluation.type.js';

function info(ctx: Context, m: LoadedModel): ModelInfo {
  const registry = ctx.scoring.inference.registry;
  const status = registry.status(m);
  const threshold = (m.card.high_value_threshold as { value?: number } | undefined)?.value ?? null;
  return {
    name: m.name,
    version: m.version,
    identity: m.identity,
    sha256: m.sha256,
    status,
    kind: m.kind,
    isDefault: m.name === ctx.scoring.defaultModel && status === 'promoted',
    horizonDays: horizonDays(m.card),
    classes: [...m.card.classes]
      .sort((a, b) => a.index - b.index)
      .map((c) => ({
        key: c.key,
        index: c.index,
        rule: c.definition,
        definition: classDefinition(m.card, c.key, c.definition),
        threshold: c.key === 'high_value' ? threshold : null,
      })),
    features: m.featureNames,
    metrics: (m.card.metrics_held_out ?? {}) as Record<string, unknown>,
    evaluation: modelEvaluation(m.card),
    metricsPlainArgmax: (m.card.metrics_held_out_argmax ?? null) as Record<string, unknown> | null,
    decisionRule: describeDecisionRule(m.card),
    decisionRuleDetails: (m.card.decision_rule ?? null) as Record<string, unknown> | null,
    calibration: (m.card.calibration ?? null) as Record<string, unknown> | null,
    baselines: (m.card.baselines ?? {}) as Record<string, unknown>,
    gate: (m.card.gate ?? null) as Record<string, unknown> | null,
    trainingData: (m.card.training_data ?? {}) as Record<string, unknown>,
    created: typeof m.card.created === 'string' ? m.card.created : null,
    executionProvider: m.provider,
    explanationMethod: ctx.scoring.methodOf(m),
    loadedAt: m.loadedAt,
    lifetime: (m.card.lifetime ?? null) as Record<string, unknown> | null,
  };
}

@Resolver()
export class ModelResolver {
  @Query(() => [ModelInfo], { description: 'Every loaded model version (promoted, candidate and retired), by name then version.' })
  models(
    @Ctx() ctx: Context,
    @Arg('name', () => String, { nullable: true, description: 'Only this model.' }) name?: string | null,
  ): ModelInfo[] {
    return ctx.scoring.inference.registry
      .all()
      .filter((m) => name == null || m.name === name)
      .map((m) => info(ctx, m));
  }

  @Mutation(() => ModelInfo, {
    description: 'Serves this version of a model from now on, on every server sharing the database (within MODELS_POLL_SECONDS; at once on this one). Recorded with the caller in "ModelPromotion" and the log. Stored scores are refreshed in the background.',
  })
  async promoteModel(@Arg('name', () => String) name: string, @Arg('version', () => String) version: string, @Ctx() ctx: Context): Promise<ModelInfo> {
    const registry = ctx.scoring.inference.registry;
    if (!registry.get(name)) throw badInput('name', `unknown model "${name}" (known: ${registry.names().join(', ')})`);
    try {
      await assertVersionExists(ctx.config.MODELS_DIR, name, version);
    } catch (err) {
      if (err instanceof PromotionError) throw badInput('version', err.message);
      throw err;
    }
    // A version written after this server's last poll is loaded first.
    if (!registry.get(name, version)) await ctx.scoring.syncModels();
    if (!registry.get(name, version)) await registry.refresh((err) => ctx.log.error({ err: err.message }, 'model version not loaded'));
    if (!registry.get(name, version)) throw badInput('version', `${name} version ${version} could not be loaded by this server (see its log)`);
    const previous = registry.get(name)!.version;
    const by = `api (${ctx.principal.role}${ctx.principal.keyId ? ` key ${ctx.principal.keyId}` : ''})`;
    const row = await recordPromotion(ctx.db, { model: name, version, promotedBy: by, reason: 'manual (promoteModel)' });
    ctx.log.info({ event: 'model.promoted', model: name, version, previous, promotedBy: by, promotionId: row.id }, `model ${name} version ${version} promoted`);
    await ctx.scoring.syncModels();
    // Without a model lifecycle (tests, tools) the switch is applied here.
    if (registry.get(name)?.version !== version) registry.applyPromotions(await readPromotions(ctx.db));
    return info(ctx, registry.get(name, version)!);
  }
}
