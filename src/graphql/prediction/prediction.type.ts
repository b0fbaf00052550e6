import { Field, Float, Int, ObjectType } from 'type-graphql';
import { GraphQLDateTimeISO, GraphQLJSONObject } from 'graphql-scalars';
import type { LoadedModel } from '../../inference/registry.js';
import { ModelEvaluation } from '../model/evaluation.type.js';

@ObjectType({ description: 'Probability of one segment.' })
export class SegmentProbability {
  @Field(() => String) segment!: string;
  @Field(() => Float) probability!: number;
}

@ObjectType({ description: 'What pushed the margin of the explained segment up (positive) or down (negative).' })
export class Contribution {
  @Field(() => String, { description: 'Feature name as in the model card, or order[i] for the sequence model.' }) feature!: string;
  @Field(() => String, { description: 'Human-readable name (for an order: its date and amount, unless withheld).' }) label!: string;
  @Field(() => Float, {
    nullable: true,
    description: 'The exact input value; null when missing, or when withheld because the credential may not read the customer data it is derived from.',
  })
  value!: number | null;
  @Field(() => String, { nullable: true, description: 'The value for people, rounded with its unit ("4023 days", "$887.09"); null when `value` is.' })
  displayValue!: string | null;
  @Field(() => Boolean, { description: 'True when value, displayValue and any label or summary clause stating it are withheld from this credential (see README "Security").' })
  withheld!: boolean;
  @Field(() => Float, { description: 'Contribution in the model\'s margin units (log-odds).' }) contribution!: number;
}

@ObjectType({ description: 'Why the model scores this segment as it does: baseValue + Σ contributions + restContribution = margin.' })
export class Explanation {
  @Field(() => String) segment!: string;
  @Field(() => String, { description: 'How the contributions were computed: tree_shap, linear or occlusion (see methodDescription).' }) method!: string;
  @Field(() => String) methodDescription!: string;
  @Field(() => Float, { description: 'The margin before any input is considered.' }) baseValue!: number;
  @Field(() => Float, { description: 'The model\'s margin (log-odds) for the segment.' }) margin!: number;
  @Field(() => [Contribution], { description: 'The largest contributions by magnitude.' }) contributions!: Contribution[];
  @Field(() => Float, { description: 'Sum of the contributions not listed.' }) restContribution!: number;
  @Field(() => String, { description: 'One sentence for a dashboard: how likely the segment is and the two inputs weighing most in that direction.' }) summary!: string;
}

@ObjectType({ description: 'A model\'s prediction for one customer at one scoring time.' })
export class Prediction {
  customerId!: string;
  /** The served model that made it (its explanation must come from the same file). Not a GraphQL field. */
  loadedModel!: LoadedModel;
  @Field(() => String) model!: string;
  @Field(() => String) modelVersion!: string;
  @Field(() => GraphQLDateTimeISO, { description: 'Features use orders up to this instant.' }) asOf!: Date;
  @Field(() => String, { description: 'The predicted segment (stable key, see Query.models): the model card\'s decision rule over the calibrated probabilities, argmax of p · w with class weights tuned on validation customers — not always the most probable segment (see segmentProbabilities).' }) segment!: string;
  @Field(() => Float, { description: 'Probability of `segment`.' }) probability!: number;
  @Field(() => [SegmentProbability], { description: 'Every segment; sums to 1.' }) segmentProbabilities!: SegmentProbability[];
}

@ObjectType({ description: 'A segment as the model version defines it.' })
export class SegmentClass {
  @Field(() => String) key!: string;
  @Field(() => Int) index!: number;
  @Field(() => String, { description: 'With this version\'s horizon and threshold, e.g. "spends at least $201.58 in the next 90 days".' }) definition!: string;
  @Field(() => String, { description: 'The rule as the model card states it.' }) rule!: string;
  @Field(() => Float, { nullable: true, description: 'The class\'s threshold (currency, or orders when the card says so), when it has one.' }) threshold!: number | null;
}

@ObjectType({ description: 'A loaded model version, from its card and the runtime.' })
export class ModelInfo {
  @Field(() => String) name!: string;
  @Field(() => String, { description: 'Version folder (models/<name>/<version>/).' }) version!: string;
  @Field(() => String, { description: 'name@version#sha256 of the ONNX file: what a prediction was computed with.' }) identity!: string;
  @Field(() => String, { description: 'sha256 of model.onnx.' }) sha256!: string;
  @Field(() => String, { description: 'promoted (served when a query names no version), candidate (never promoted) or retired (promoted before, since replaced).' }) status!: string;
  @Field(() => String) kind!: string;
  @Field(() => Boolean, { description: 'The promoted version of DEFAULT_MODEL: used when a query names no model.' }) isDefault!: boolean;
  @Field(() => Int, { nullable: true, description: 'Days after the scoring time the segments look at.' }) horizonDays!: number | null;
  @Field(() => GraphQLJSONObject, { description: 'The same held-out metrics for the baselines (majority class, RFM rules); empty on cards without them.' }) baselines!: Record<string, unknown>;
  @Field(() => GraphQLJSONObject, { nullable: true, description: 'The quality gate\'s verdict at training time: passed, the bootstrap intervals, and why.' }) gate!: Record<string, unknown> | null;
  @Field(() => GraphQLJSONObject, { description: 'What trained it: source, counts, date range, sha256 of the export.' }) trainingData!: Record<string, unknown>;
  @Field(() => String, { nullable: true, description: 'When it was trained (card).' }) created!: string | null;
  @Field(() => [SegmentClass]) classes!: SegmentClass[];
  @Field(() => [String], { description: 'Ordered input features.' }) features!: string[];
  @Field(() => GraphQLJSONObject, { description: 'Held-out metrics from the model card: the served probabilities with the served decision rule (see decisionRule).' }) metrics!: Record<string, unknown>;
  @Field(() => GraphQLJSONObject, { nullable: true, description: 'The same held-out metrics with plain argmax over the same probabilities (null on cards without a decision rule, where metrics already are plain argmax).' }) metricsPlainArgmax!: Record<string, unknown> | null;
  @Field(() => String, { description: 'How this version turns its probabilities into the segment: the recalibration and the class weights from its card, and what they were fitted on.' }) decisionRule!: string;
  @Field(() => GraphQLJSONObject, { nullable: true, description: 'The card\'s decision_rule (weights per class, tuned_on, validation macro-F1 with plain argmax and with the rule); null = plain argmax.' }) decisionRuleDetails!: Record<string, unknown> | null;
  @Field(() => GraphQLJSONObject, { nullable: true, description: 'The card\'s calibration (temperature, log prior shift per class, fitted_on); null = the ONNX probabilities are served as they are.' }) calibration!: Record<string, unknown> | null;
  @Field(() => ModelEvaluation, { nullable: true, description: 'Calibration bins and confusion matrix on the held-out customers, stored with the version (card key "evaluation"); null on cards without one.' })
  evaluation!: ModelEvaluation | null;
  @Field(() => String, { description: 'ONNX Runtime execution provider in use: cuda or cpu.' }) executionProvider!: string;
  @Field(() => String, { description: 'How explanations are computed.' }) explanationMethod!: string;
  @Field(() => GraphQLDateTimeISO) loadedAt!: Date;
  @Field(() => GraphQLJSONObject, {
    nullable: true,
    description: 'The card\'s lifetime parameters (BG/NBD r, alpha, a, b; Gamma-Gamma p, q, v; unit_days, calibration period, customers, currency) that Customer.lifetime uses with this version; null when the card has none.',
  })
  lifetime!: Record<string, unknown> | null;
}
