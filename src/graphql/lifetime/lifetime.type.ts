import { Field, Float, Int, ObjectType } from 'type-graphql';
import { GraphQLDateTimeISO } from 'graphql-scalars';

@ObjectType({
  description:
    'Buy-till-you-die lifetime figures of one customer at a scoring time: BG/NBD (Fader, Hardie & Lee 2005) for the number of future orders, Gamma-Gamma (Fader & Hardie 2013) for their value, with the parameters fitted when the model version was trained (its card, `lifetime`). Computed from the customer\'s paid orders up to `asOf`, one purchase occasion per UTC day.',
})
export class Lifetime {
  @Field(() => Float, { description: 'P(alive): probability that the customer has not dropped out (FHL 2005, eq. 11). 1 for a customer with one purchase day.' })
  pAlive!: number;
  @Field(() => Float, { description: 'Expected purchase occasions (order days) in the next `horizonDays` days: E[Y(t) | x, t_x, T] (FHL 2005, eq. 10).' })
  expectedOrders!: number;
  @Field(() => Float, { description: 'Expected value of one future order (currency units): the Gamma-Gamma posterior mean, the customer\'s own mean shrunk toward the population\'s p·v/(q−1).' })
  expectedOrderValue!: number;
  @Field(() => Float, { description: 'Predicted customer lifetime value over `horizonDays`: Σ over 30-day steps of expectedOrderValue × the expected orders in the step, discounted by (1 + monthlyDiscountRate)^step.' })
  predictedClv!: number;
  @Field(() => Float, { nullable: true, description: 'Expected days from asOf to the next order while the customer keeps buying: the posterior mean (α + T)/(r + x − 1) of 1/λ, in days. Null when that mean is infinite (r + x ≤ 1).' })
  expectedDaysToNextOrder!: number | null;
  @Field(() => GraphQLDateTimeISO, { nullable: true, description: '`asOf` + expectedDaysToNextOrder, if the customer is alive (see pAlive).' })
  expectedNextOrderAt!: Date | null;
  @Field(() => Float, { nullable: true, description: 'Observed: days from the first to the last purchase day divided by the repeat purchase days; null with a single purchase day.' })
  averageDaysBetweenOrders!: number | null;
  @Field(() => Int, { description: 'Repeat purchase days (x) up to asOf.' }) repeatPurchases!: number;
  @Field(() => String, { description: 'Currency of the amounts (the training data\'s).' }) currency!: string;
  @Field(() => Int) horizonDays!: number;
  @Field(() => Float) monthlyDiscountRate!: number;
  @Field(() => String, { description: 'The model whose card holds the parameters.' }) model!: string;
  @Field(() => String, { description: 'The model version whose training fitted the parameters.' }) modelVersion!: string;
  @Field(() => GraphQLDateTimeISO, { nullable: true, description: 'End of the calibration period the parameters were fitted on (the training run\'s test cutoff).' })
  fittedThrough!: Date | null;
  @Field(() => GraphQLDateTimeISO, { description: 'Scoring time: the customer\'s paid orders up to this instant.' }) asOf!: Date;
}
