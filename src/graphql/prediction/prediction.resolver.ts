import { Arg, Ctx, FieldResolver, Float, Int, Query, Resolver, Root } from 'type-graphql';
import type { LoadedModel } from '../../inference/registry.js';
import { presentExplanation, withholdUnreadable } from '../../scoring/explanation.js';
import { derivedValueReadable } from '../auth/derived-data.js';
import { explanationMethods } from '../../scoring/scoring.js';
import type { Context } from '../context.type.js';
import { Customer } from '../customer/customer.type.js';
import { ScoringTimeScalar } from '../common/scalars.js';
import { appError, badInput, ErrorCode } from '../errors.js';
import { featureSources, SEQUENCE_SOURCES, type FeatureSource } from '../../features/spec.js';
import { outOfScoringRange, SCORING_TIME_RANGE } from '../../scoring/as-of.js';
import { modelFor } from '../model/pin.js';
import { Explanation, Prediction, SegmentProbability } from './prediction.type.js';

export const asOfDescription = 'Scoring time: features use orders up to this instant; a date alone means the end of that UTC day. Default: SCORING_AS_OF, else the end of the current UTC day. Choosing it needs a role that may read all the customer data the answer is computed from (FORBIDDEN otherwise: answers at chosen times would show when that data changed).';
const MAX_TOP = 100;

function modelOf(ctx: Context, name: string | null | undefined, version?: string | null): LoadedModel {
  return modelFor(ctx, name, version);
}

/**
 * The scoring time of a request. A caller-chosen `asOf` is derived data of every input it moves:
 * asked day by day, a prediction changes on the days the customer ordered (orders), or crossed an
 * age the model splits on (birth date). So choosing it needs a role that may read all of
 * `sources`, the data the answer is computed from; others get the default scoring time only.
 */
export function scoringTime(ctx: Context, asOf: Date | null | undefined, sources: readonly FeatureSource[]): Date {
  if (asOf && outOfScoringRange(asOf)) throw badInput('asOf', `must be ${SCORING_TIME_RANGE}`);
  if (asOf && !derivedValueReadable(ctx.principal.role)(sources)) {
    throw appError(
      ErrorCode.FORBIDDEN,
      `Not allowed for this credential: asOf (the answer at a chosen time would show when the customer data it is computed from changed: ${sources.join(', ')}); omit asOf to use the default scoring time`,
      { argument: 'asOf' },
    );
  }
  return ctx.scoring.asOf(asOf);
}

const sourcesOfModel = new WeakMap<LoadedModel, readonly FeatureSource[]>();

/** The customer data a model's answers are computed from: its tabular features' sources, and the orders of a sequence model (once per loaded version). */
export function modelSources(model: LoadedModel): readonly FeatureSource[] {
  let sources = sourcesOfModel.get(model);
  if (!sources) {
    const all = new Set<FeatureSource>(model.featureNames.flatMap((name) => featureSources(name)));
    if (model.layout.sequence) for (const s of SEQUENCE_SOURCES) all.add(s);
    sources = [...all];
    sourcesOfModel.set(model, sources);
  }
  return sources;
}

async function explain(ctx: Context, prediction: Prediction, top: number, segment: string | null | undefined): Promise<Explanation | null> {
  if (!Number.isInteger(top) || top < 0 || top > MAX_TOP) throw badInput('top', `must be an integer from 0 to ${MAX_TOP}`);
  // The version that made the prediction explains it, even if another one was promoted meanwhile.
  const model = prediction.loadedModel;
  const target = segment ?? prediction.segment;
  const classIndex = model.classes.indexOf(target);
  if (classIndex < 0) throw badInput('segment', `unknown segment "${target}" (known: ${model.classes.join(', ')})`);
  const explained = await ctx.predictionLoaders.explanation(model, prediction.asOf).load(prediction.customerId);
  if (!explained) return null;
  // Derived data follows the policy of its sources: withheld before anything is phrased.
  const inputs = withholdUnreadable(explained.inputs, derivedValueReadable(ctx.principal.role));
  const probability = prediction.segmentProbabilities[classIndex]?.probability ?? 0;
  const top1 = prediction.segmentProbabilities.reduce((a, b) => (b.probability > a.probability ? b : a));
  const moreProbable = top1.segment !== target && top1.probability > probability ? top1 : null;
  const presented = presentExplanation(explained.attribution, classIndex, target, inputs, top, { probability, predicted: target === prediction.segment, moreProbable });
  return {
    ...presented,
    contributions: presented.contributions.map((c) => ({
      feature: c.feature,
      label: c.label,
      value: c.value,
      displayValue: c.display,
      withheld: c.withheld,
      contribution: c.contribution,
    })),
    method: explained.method,
    methodDescription: explanationMethods[explained.method] ?? explained.method,
  };
}

@Resolver(() => Customer)
export class CustomerPredictionResolver {
  @FieldResolver(() => Prediction, { nullable: true, description: 'The prediction of a model (default: DEFAULT_MODEL) at a version (default: its promoted version).' })
  prediction(
    @Root() customer: Customer,
    @Arg('model', () => String, { nullable: true }) model: string | null,
    @Arg('asOf', () => ScoringTimeScalar, { nullable: true, description: asOfDescription }) asOf: Date | null,
    @Ctx() ctx: Context,
    @Arg('version', () => String, { nullable: true, description: 'A loaded version (see Query.models), e.g. a candidate; default: the promoted version.' }) version?: string | null,
  ): Promise<Prediction | null> {
    const m = modelOf(ctx, model, version);
    return ctx.predictionLoaders.prediction(m, scoringTime(ctx, asOf, modelSources(m))).load(customer.id);
  }

  @FieldResolver(() => String, { nullable: true, description: 'The segment the customer is heading for (default model).' })
  async segment(@Root() customer: Customer, @Arg('asOf', () => ScoringTimeScalar, { nullable: true, description: asOfDescription }) asOf: Date | null, @Ctx() ctx: Context) {
    return (await this.prediction(customer, null, asOf, ctx))?.segment ?? null;
  }

  @FieldResolver(() => Float, { nullable: true, description: 'Probability of `segment`.' })
  async probability(@Root() customer: Customer, @Arg('asOf', () => ScoringTimeScalar, { nullable: true, description: asOfDescription }) asOf: Date | null, @Ctx() ctx: Context) {
    return (await this.prediction(customer, null, asOf, ctx))?.probability ?? null;
  }

  @FieldResolver(() => [SegmentProbability], { nullable: true, description: 'Every segment\'s probability (default model); sums to 1.' })
  async segmentProbabilities(
    @Root() customer: Customer,
    @Arg('asOf', () => ScoringTimeScalar, { nullable: true, description: asOfDescription }) asOf: Date | null,
    @Ctx() ctx: Context,
  ) {
    return (await this.prediction(customer, null, asOf, ctx))?.segmentProbabilities ?? null;
  }

  @FieldResolver(() => Explanation, { nullable: true, description: 'Why the default model predicts `segment` (or the segment given).' })
  async explanation(
    @Root() customer: Customer,
    @Arg('top', () => Int, { defaultValue: 5, description: `Contributions to list (0–${MAX_TOP}).` }) top: number,
    @Arg('segment', () => String, { nullable: true, description: 'Explain this segment instead of the predicted one.' }) segment: string | null,
    @Arg('asOf', () => ScoringTimeScalar, { nullable: true, description: asOfDescription }) asOf: Date | null,
    @Ctx() ctx: Context,
  ): Promise<Explanation | null> {
    const prediction = await this.prediction(customer, null, asOf, ctx);
    return prediction ? explain(ctx, prediction, top, segment) : null;
  }
}

@Resolver(() => Prediction)
export class PredictionResolver {
  @FieldResolver(() => Explanation, { nullable: true, description: 'Computed only when selected.' })
  explanation(
    @Root() prediction: Prediction,
    @Arg('top', () => Int, { defaultValue: 5, description: `Contributions to list (0–${MAX_TOP}).` }) top: number,
    @Arg('segment', () => String, { nullable: true, description: 'Explain this segment instead of the predicted one.' }) segment: string | null,
    @Ctx() ctx: Context,
  ): Promise<Explanation | null> {
    return explain(ctx, prediction, top, segment);
  }
}
