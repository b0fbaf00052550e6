// Customer.lifetime: BG/NBD + Gamma-Gamma figures from the served model version's card parameters
// (src/lifetime/card.ts) and the customer's paid orders up to asOf. Per request and scoring time,
// one DataLoader reads every customer of the page in ONE statement (loadFeatureInputs, the
// statement predictions use); the figures are then pure arithmetic (src/lifetime/btyd.ts).
import DataLoader from 'dataloader';
import { Arg, Ctx, FieldResolver, Float, Int, Resolver, Root } from 'type-graphql';
import { loadFeatureInputs } from '../../features/load.js';
import { lifetimeFigures } from '../../lifetime/btyd.js';
import { DEFAULT_HORIZON_DAYS, lifetimeParams, MAX_HORIZON_DAYS } from '../../lifetime/card.js';
import { DAY_MS, occasionsOf, rfmSummary, type Occasions } from '../../lifetime/summary.js';
import { addWarning } from '../common/warnings.js';
import { ScoringTimeScalar } from '../common/scalars.js';
import type { Context } from '../context.type.js';
import { Customer } from '../customer/customer.type.js';
import { badInput } from '../errors.js';
import { modelFor } from '../model/pin.js';
import { asOfDescription, scoringTime } from '../prediction/prediction.resolver.js';
import { Lifetime } from './lifetime.type.js';


/** Loaders live as long as the request's context object. */
const occasionLoaders = new WeakMap<Context, Map<number, DataLoader<string, Occasions | null>>>();

export function occasionLoader(ctx: Context, asOf: Date): DataLoader<string, Occasions | null> {
  let byTime = occasionLoaders.get(ctx);
  if (!byTime) occasionLoaders.set(ctx, (byTime = new Map()));
  let loader = byTime.get(asOf.getTime());
  if (!loader) {
    const asOfMs = asOf.getTime();
    loader = new DataLoader(async (ids) => {
      const inputs = await loadFeatureInputs(ctx.db, ids, asOf);
      return ids.map((id) => {
        const input = inputs.get(id);
        return input ? occasionsOf(input.paidOrders, asOfMs) : null;
      });
    });
    byTime.set(asOfMs, loader);
  }
  return loader;
}

export function checkHorizonDays(field: string, days: number): number {
  if (!Number.isInteger(days) || days < 1 || days > MAX_HORIZON_DAYS) throw badInput(field, `must be an integer from 1 to ${MAX_HORIZON_DAYS} days`);
  return days;
}

@Resolver(() => Customer)
export class CustomerLifetimeResolver {
  @FieldResolver(() => Lifetime, {
    nullable: true,
    description:
      'Lifetime value, P(alive), expected orders and next order (BG/NBD + Gamma-Gamma) with the parameters of a model version\'s card (default: DEFAULT_MODEL, its promoted version). Null when the customer has no paid order up to asOf, or the card has no `lifetime` section (a warning LIFETIME_UNAVAILABLE says so).',
  })
  async lifetime(
    @Root() customer: Customer,
    @Arg('asOf', () => ScoringTimeScalar, { nullable: true, description: asOfDescription }) asOf: Date | null,
    @Arg('horizonDays', () => Int, { defaultValue: DEFAULT_HORIZON_DAYS, description: `Days ahead for expectedOrders and predictedClv (1–${MAX_HORIZON_DAYS}).` }) horizonDays: number,
    @Arg('monthlyDiscountRate', () => Float, { defaultValue: 0, description: 'Discount rate per 30 days for predictedClv (0–1, e.g. 0.01).' }) monthlyDiscountRate: number,
    @Arg('model', () => String, { nullable: true }) model: string | null,
    @Ctx() ctx: Context,
    @Arg('version', () => String, { nullable: true, description: 'A loaded version (see Query.models); default: the promoted version.' }) version?: string | null,
  ): Promise<Lifetime | null> {
    checkHorizonDays('horizonDays', horizonDays);
    if (!(monthlyDiscountRate >= 0 && monthlyDiscountRate <= 1)) throw badInput('monthlyDiscountRate', 'must be between 0 and 1');
    const m = modelFor(ctx, model, version);
    const time = scoringTime(ctx, asOf);
    const params = lifetimeParams(m.card);
    if (!params) {
      addWarning(ctx, {
        code: 'LIFETIME_UNAVAILABLE',
        message: `The card of ${m.name} version ${m.version} has no lifetime parameters (retrain, or add them with python-export/lifetime_card.py).`,
        model: m.name,
        version: m.version,
      });
      return null;
    }
    const occ = await occasionLoader(ctx, time).load(customer.id);
    if (!occ) return null;
    const asOfMs = time.getTime();
    const f = lifetimeFigures(params.bgnbd, params.gammaGamma, params.unitDays, rfmSummary(occ, asOfMs, params.unitDays), horizonDays, monthlyDiscountRate);
    return {
      ...f,
      expectedNextOrderAt: f.expectedDaysToNextOrder === null ? null : new Date(asOfMs + Math.round(f.expectedDaysToNextOrder * DAY_MS)),
      repeatPurchases: occ.repeats,
      currency: params.currency,
      horizonDays,
      monthlyDiscountRate,
      model: m.name,
      modelVersion: m.version,
      fittedThrough: params.calibrationEnd,
      asOf: time,
    };
  }
}
