// Stored scores in the API: Customer.score (per-request DataLoader, one statement per page) and
// Query.segmentSummary (a model's segment distribution and score freshness).
import DataLoader from 'dataloader';
import { modelFor } from '../model/pin.js';
import { Arg, Ctx, FieldResolver, Query, Resolver, Root } from 'type-graphql';
import type { LoadedModel } from '../../inference/registry.js';
import type { Context } from '../context.type.js';
import { Customer } from '../customer/customer.type.js';
import { addWarning } from '../common/warnings.js';
import { lastScoreRun, scoresByCustomerIds, segmentAggregates, storedScoresState } from './segment.repository.js';
import { SegmentSummary, StoredScore } from './segment.type.js';

function modelOf(ctx: Context, name: string | null | undefined): LoadedModel {
  return modelFor(ctx, name);
}

/** Loaders live as long as the request's context object (and no longer). */
const scoreLoaders = new WeakMap<Context, Map<string, DataLoader<string, StoredScore | null>>>();

function scoreLoader(ctx: Context, model: LoadedModel): DataLoader<string, StoredScore | null> {
  let byModel = scoreLoaders.get(ctx);
  if (!byModel) scoreLoaders.set(ctx, (byModel = new Map()));
  let loader = byModel.get(model.name);
  if (!loader) {
    loader = new DataLoader(async (ids) => {
      const found = await scoresByCustomerIds(ctx.db, model.name, model.classes, ids);
      return ids.map((id) => found.get(id) ?? null);
    });
    byModel.set(model.name, loader);
  }
  return loader;
}

@Resolver(() => Customer)
export class CustomerScoreResolver {
  @FieldResolver(() => StoredScore, {
    nullable: true,
    description: 'The score stored by the latest batch-scoring run of a model (default: DEFAULT_MODEL); null when the customer has none. Unlike `prediction`, it is not computed live.',
  })
  score(@Root() customer: Customer, @Arg('model', () => String, { nullable: true }) model: string | null, @Ctx() ctx: Context): Promise<StoredScore | null> {
    return scoreLoader(ctx, modelOf(ctx, model)).load(customer.id);
  }
}

@Resolver()
export class SegmentSummaryResolver {
  @Query(() => SegmentSummary, { description: 'Per segment: customers, share and mean probability of a model\'s stored scores (default: DEFAULT_MODEL), and how fresh they are.' })
  async segmentSummary(@Arg('model', () => String, { nullable: true }) model: string | null, @Ctx() ctx: Context): Promise<SegmentSummary> {
    const m = modelOf(ctx, model);
    // One snapshot: read separately, a scoring run finishing between the statements would give a
    // summary whose counts show the old version while it says the scores are current.
    const [{ customersTotal, segments }, lastRun, state] = await ctx.db.prisma.$transaction(
      async (tx) => [await segmentAggregates(tx, m.name), await lastScoreRun(tx, m.name), await storedScoresState(tx, m.name, m.version)] as const,
      { isolationLevel: 'RepeatableRead' },
    );
    if (state.note) addWarning(ctx, { code: 'STORED_SCORES_INCOMPLETE', message: state.note, model: m.name, servedVersion: m.version });
    const scored = segments.reduce((s, g) => s + g.count, 0);
    const bySegment = new Map(segments.map((g) => [g.segment, g]));
    const keys = [...m.classes, ...segments.map((g) => g.segment).filter((k) => !m.classes.includes(k))];
    const min = (xs: (Date | null)[]) => xs.reduce<Date | null>((a, b) => (b && (!a || b < a) ? b : a), null);
    const max = (xs: (Date | null)[]) => xs.reduce<Date | null>((a, b) => (b && (!a || b > a) ? b : a), null);
    return {
      model: m.name,
      servedVersion: m.version,
      storedVersions: [...new Set(segments.flatMap((g) => g.versions))].sort(),
      customersTotal,
      customersScored: scored,
      segments: keys.map((segment) => {
        const g = bySegment.get(segment);
        return { segment, count: g?.count ?? 0, share: scored > 0 ? (g?.count ?? 0) / scored : 0, meanProbability: g?.meanProbability ?? null };
      }),
      asOfMin: min(segments.map((g) => g.asOfMin)),
      asOfMax: max(segments.map((g) => g.asOfMax)),
      scoredAtMin: min(segments.map((g) => g.scoredAtMin)),
      scoredAtMax: max(segments.map((g) => g.scoredAtMax)),
      lastRun,
      stale: !state.complete && customersTotal > 0,
      staleCustomers: state.staleCustomers,
      scoringInProgress: state.running !== null,
      note: state.note,
    };
  }
}
