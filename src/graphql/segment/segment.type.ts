import { Field, Float, Int, ObjectType } from 'type-graphql';
import { GraphQLDateTimeISO } from 'graphql-scalars';
import { SegmentProbability } from '../prediction/prediction.type.js';

@ObjectType({ description: 'A score stored by batch scoring (`npm run score`, table "CustomerScore"): as fresh as its run, not live.' })
export class StoredScore {
  @Field(() => String) model!: string;
  @Field(() => String, { description: 'Version of the model that wrote the score.' }) modelVersion!: string;
  @Field(() => String, { description: 'The predicted segment (the model card\'s decision rule, as Prediction.segment): not always the most probable one.' }) segment!: string;
  @Field(() => Float, { description: 'Probability of `segment`.' }) probability!: number;
  @Field(() => [SegmentProbability], { description: 'Every segment of the model, in model-card order.' }) segmentProbabilities!: SegmentProbability[];
  @Field(() => GraphQLDateTimeISO, { description: 'Scoring time: features used orders up to this instant.' }) asOf!: Date;
  @Field(() => GraphQLDateTimeISO, { description: 'When the score was written.' }) scoredAt!: Date;
  @Field(() => Float, { nullable: true, description: 'P(alive) at asOf (BG/NBD with the lifetime parameters of the card of `modelVersion`; see Customer.lifetime). Null when that card has none, the customer had no paid order, or the score predates lifetime figures.' })
  pAlive!: number | null;
  @Field(() => Float, { nullable: true, description: 'Expected purchase occasions in the 90 days after asOf (Customer.lifetime(horizonDays: 90).expectedOrders at the time of scoring).' })
  expectedOrders!: number | null;
  @Field(() => Float, { nullable: true, description: 'Predicted lifetime value over the 90 days after asOf, undiscounted, in the card\'s currency (Customer.lifetime(horizonDays: 90).predictedClv at the time of scoring).' })
  predictedClv!: number | null;
  @Field(() => Boolean, {
    description:
      'True when the customer\'s data changed after the score was written: an order recorded since, ordered at or before asOf, or the profile updated (upsertCustomer, an import). The live prediction at the same asOf may then differ; the next batch-scoring run rescores the customer.',
  })
  dataChangedSince!: boolean;
}

@ObjectType({ description: 'Stored scores of one segment.' })
export class SegmentShare {
  @Field(() => String) segment!: string;
  @Field(() => Int, { description: 'Customers whose stored segment this is.' }) count!: number;
  @Field(() => Float, { description: 'count / customersScored (0 when nothing is scored).' }) share!: number;
  @Field(() => Float, { nullable: true, description: 'Mean stored probability of these customers; null when count is 0.' }) meanProbability!: number | null;
}

@ObjectType({ description: 'One batch-scoring run (table "ScoreRun").' })
export class ScoreRunInfo {
  @Field(() => Int) id!: number;
  @Field(() => String) model!: string;
  @Field(() => String) modelVersion!: string;
  @Field(() => GraphQLDateTimeISO) asOf!: Date;
  @Field(() => String, { description: 'running, interrupted, finished, failed or superseded.' }) status!: string;
  @Field(() => Int, { description: 'Customers scored by the run so far.' }) customersScored!: number;
  @Field(() => GraphQLDateTimeISO) startedAt!: Date;
  @Field(() => GraphQLDateTimeISO, { description: 'Last progress.' }) updatedAt!: Date;
  @Field(() => GraphQLDateTimeISO, { nullable: true }) finishedAt!: Date | null;
  // Resolved by ScoreRunResolver.segments (table "ScoreRunSegment").
  segments?: SegmentShare[] | null;
}

@ObjectType({ description: 'Segment distribution of a model\'s stored scores, and how fresh they are.' })
export class SegmentSummary {
  @Field(() => String) model!: string;
  @Field(() => String, { description: 'Version of the model served now.' }) servedVersion!: string;
  @Field(() => [String], { description: 'Versions that wrote the stored scores (more than one, or one other than servedVersion = stale scores).' })
  storedVersions!: string[];
  @Field(() => Int, { description: 'Customers in the database.' }) customersTotal!: number;
  @Field(() => Int, { description: 'Customers with a stored score of this model.' }) customersScored!: number;
  @Field(() => [SegmentShare], { description: 'Every segment of the model (model-card order), then any other stored segment.' }) segments!: SegmentShare[];
  @Field(() => GraphQLDateTimeISO, { nullable: true, description: 'Oldest scoring time among the stored scores.' }) asOfMin!: Date | null;
  @Field(() => GraphQLDateTimeISO, { nullable: true, description: 'Newest scoring time among the stored scores.' }) asOfMax!: Date | null;
  @Field(() => GraphQLDateTimeISO, { nullable: true, description: 'Oldest write.' }) scoredAtMin!: Date | null;
  @Field(() => GraphQLDateTimeISO, { nullable: true, description: 'Newest write.' }) scoredAtMax!: Date | null;
  @Field(() => ScoreRunInfo, { nullable: true, description: 'The latest batch-scoring run of this model.' }) lastRun!: ScoreRunInfo | null;
  @Field(() => Boolean, { description: 'True until every stored score is of the served version and a run of it has finished: then the counts describe another model version (or too few customers).' })
  stale!: boolean;
  @Field(() => Int, { description: 'Stored scores written by another version than servedVersion.' }) staleCustomers!: number;
  @Field(() => Boolean, { description: 'A batch-scoring run of the served version is in progress.' }) scoringInProgress!: boolean;
  @Field(() => String, { nullable: true, description: 'Why the summary is stale and what is being done about it; null when it is current.' }) note!: string | null;
}
