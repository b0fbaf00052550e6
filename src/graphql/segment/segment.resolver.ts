// Stored scores in the API: Customer.score (per-request DataLoader, one statement per page) and
// Query.segmentSummary (a model's segment distribution and score freshness).
import DataLoader from 'dataloader';
import { modelFor } from '../model/pin.js';
import { Arg, Ctx, FieldResolver, Int, Query, Resolver, Root } from 'type-graphql';
import type { LoadedModel } from '../../inference/registry.js';
import type { Context } from '../context.type.js';
import { Customer } from '../customer/customer.type.js';
import { addWarning } from '../common/warnings.js';
import { badInput } from '../errors.js';
import { lastScoreRun, runSegments, scoreRuns, scoresByCustomerIds, segmentAggregates, storedScoresState, type RunSegmentRow } from './segment.repository.js';
import { ScoreRunInfo, SegmentShare, SegmentSummary, StoredScore } from './segment.type.js';

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

export const MAX_SCORING_RUNS = 100;

const runSegmentLoaders = new WeakMap<Context, DataLoader<number, RunSegmentRow[] | null>>();

function runSegmentLoader(ctx: Context): DataLoader<number, RunSegmentRow[] | null> {
  let loader = runSegmentLoaders.get(ctx);
  if (!loader) {
    loader = new DataLoader(async (ids) => {
      const found = await runSegments(ctx.db.prisma, ids);
      return ids.map((id) => found.get(id) ?? null);
    });
    runSegmentLoaders.set(ctx, loader);
  }
  return loader;
}

@Resolver(() => ScoreRunInfo)
export class ScoreRunResolver {
  @Query(() => [ScoreRunInfo], {
    description: `The latest batch-scoring runs of a model (default: DEFAULT_MODEL), newest first, with the segment mix each finished run wrote: how the mix moved over time. At most ${MAX_SCORING_RUNS}.`,
  })
  scoringRuns(
    @Arg('model', () => String, { nullable: true }) model: string | null,
    @Arg('last', () => Int, { defaultValue: 10, description: `How many runs (1–${MAX_SCORING_RUNS}).` }) last: number,
    @Arg('finished', () => Boolean, { defaultValue: false, description: 'Only runs that finished (the ones with a recorded segment mix).' }) finished: boolean,
    @Ctx() ctx: Context,
  ): Promise<ScoreRunInfo[]> {
    if (!Number.isInteger(last) || last < 1 || last > MAX_SCORING_RUNS) throw badInput('last', `must be from 1 to ${MAX_SCORING_RUNS} (got ${last})`);
    const m = modelOf(ctx, model);
    return scoreRuns(ctx.db.prisma, m.name, last, finished);
  }

  @FieldResolver(() => [SegmentShare], {
    nullable: true,
    description:
      'The segment mix this run wrote (count, share of the run\'s customers, mean probability), recorded when it finished (table "ScoreRunSegment"); null for a run that has not finished, or finished before the mix was recorded.',
  })
  async segments(@Root() run: ScoreRunInfo, @Ctx() ctx: Context): Promise<SegmentShare[] | null> {
    const rows = await runSegmentLoader(ctx).load(run.id);
    if (!rows) return null;
    const total = rows.reduce((s, r) => s + r.count, 0);
    const classes = ctx.scoring.inference.registry.get(run.model, run.modelVersion)?.classes ?? ctx.scoring.inference.registry.get(run.model)?.classes ?? [];
    const rank = (k: string) => (classes.includes(k) ? classes.indexOf(k) : classes.length);
    return [...rows]
      .sort((a, b) => rank(a.segment) - rank(b.segment) || a.segment.localeCompare(b.segment))
      .map((r) => ({ segment: r.segment, count: r.count, share: total > 0 ? r.count / total : 0, meanProbability: r.meanProbability }));
  }
}
