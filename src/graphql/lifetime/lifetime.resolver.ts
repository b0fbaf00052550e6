// Customer.lifetime: BG/NBD + Gamma-Gamma figures from the served model version's card parameters
// (src/lifetime/card.ts) and the customer's paid orders up to asOf. Per request and scoring time,
// the request's feature loader (prediction.loaders.ts) reads every customer of the page in ONE
// statement, shared with the page's predictions; the figures are then pure arithmetic
// (src/lifetime/btyd.ts).
import { Arg, Ctx, FieldResolver, Float, Int, Resolver, Root } from 'type-graphql';
import { lifetimeOf } from '../../lifetime/btyd.js';
import { DEFAULT_HORIZON_DAYS, lifetimeParams, MAX_HORIZON_DAYS } from '../../lifetime/card.js';
import { DAY_MS, occasionsOf } from '../../lifetime/summary.js';
import { addWarning } from '../common/warnings.js';
import { ScoringTimeScalar } from '../common/scalars.js';
import type { Context } from '../context.type.js';
import { Customer } from '../customer/customer.type.js';
import { badInput } from '../errors.js';
import { modelFor } from '../model/pin.js';
import { asOfDescription, scoringTime } from '../prediction/prediction.resolver.js';
import { derivedFields } from '../auth/policy.js';
import { Lifetime } from './lifetime.type.js';


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
    const time = scoringTime(ctx, asOf, derivedFields['Customer.lifetime']);
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
    // The request's feature rows (shared with its predictions: one statement for both).
    const asOfMs = time.getTime();
    const paidOrders = (await ctx.predictionLoaders.features(time).load(customer.id))?.paidOrders;
    const occ = paidOrders ? occasionsOf(paidOrders, asOfMs) : null;
    const f = lifetimeOf(params, occ, asOfMs, horizonDays, monthlyDiscountRate);
    if (!f || !occ) return null;
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
