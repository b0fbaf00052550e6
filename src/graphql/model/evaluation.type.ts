// ModelInfo.evaluation: the calibration (reliability) bins and the confusion matrix on the held-out
// customers, as the model card stores them under "evaluation" (python-export: train.py writes them
// for every new version; card_evaluation.py added them to the shipped version-1 cards).
import { Field, Float, Int, ObjectType } from 'type-graphql';
import type { ModelCard } from '../../inference/registry.js';

@ObjectType({ description: 'One bin of a reliability diagram: customers whose predicted probability of the class fell in [lower, upper).' })
export class CalibrationBin {
  @Field(() => Float) lower!: number;
  @Field(() => Float, { description: 'Exclusive, except for the last bin (1).' }) upper!: number;
  @Field(() => Int, { description: 'Held-out customers in the bin.' }) count!: number;
  @Field(() => Float, { nullable: true, description: 'Mean predicted probability of the class in the bin; null when the bin is empty.' }) meanPredicted!: number | null;
  @Field(() => Float, { nullable: true, description: 'Share of the bin\'s customers whose actual class it is; null when the bin is empty.' }) observed!: number | null;
}

@ObjectType({ description: 'One-vs-rest reliability of one segment.' })
export class ClassCalibration {
  @Field(() => String) segment!: string;
  @Field(() => [CalibrationBin]) bins!: CalibrationBin[];
}

@ObjectType({ description: 'Calibration on the held-out customers: a perfectly calibrated model has observed = meanPredicted in every bin.' })
export class Calibration {
  @Field(() => String, { description: 'How the bins were made.' }) method!: string;
  @Field(() => [ClassCalibration], { description: 'Per segment, in model-card order.' }) classes!: ClassCalibration[];
}

@ObjectType({ description: 'Held-out customers by actual segment (rows) and predicted segment (columns).' })
export class ConfusionMatrix {
  @Field(() => [String], { description: 'Row and column order.' }) classes!: string[];
  @Field(() => [[Int]], { description: 'matrix[actual][predicted] = customers.' }) matrix!: number[][];
}

@ObjectType({ description: 'The evaluation stored with a model version (card key "evaluation").' })
export class ModelEvaluation {
  @Field(() => String, { description: 'Which customers were evaluated, at which cutoff and horizon.' }) heldOut!: string;
  @Field(() => Int, { description: 'Held-out customers evaluated.' }) customers!: number;
  @Field(() => String, { nullable: true, description: 'What wrote the evaluation when not the training run itself.' }) producedBy!: string | null;
  @Field(() => Calibration) calibration!: Calibration;
  @Field(() => ConfusionMatrix) confusion!: ConfusionMatrix;
}

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const numOrNull = (v: unknown) => (isNum(v) ? v : null);

/** The card's "evaluation", or null when the card has none (or one this server cannot read). */
export function modelEvaluation(card: ModelCard): ModelEvaluation | null {
  const e = card.evaluation as Record<string, unknown> | undefined;
  if (!e || typeof e !== 'object') return null;
  const cal = e.calibration as { method?: unknown; classes?: Record<string, unknown> } | undefined;
  const conf = e.confusion as { classes?: unknown; matrix?: unknown } | undefined;
  if (!cal?.classes || typeof cal.classes !== 'object' || !conf || !Array.isArray(conf.classes) || !Array.isArray(conf.matrix)) return null;
  const classes = conf.classes.map(String);
  const matrix = conf.matrix as unknown[];
  if (matrix.length !== classes.length || !matrix.every((r) => Array.isArray(r) && r.length === classes.length && r.every((v) => Number.isInteger(v)))) return null;
  const order = [...card.classes].sort((a, b) => a.index - b.index).map((c) => c.key);
  const keys = [...order.filter((k) => k in cal.classes!), ...Object.keys(cal.classes).filter((k) => !order.includes(k))];
  const perClass: ClassCalibration[] = [];
  for (const segment of keys) {
    const bins = cal.classes[segment];
    if (!Array.isArray(bins)) return null;
    perClass.push({
      segment,
      bins: bins.map((b: Record<string, unknown>) => ({
        lower: Number(b.lower),
        upper: Number(b.upper),
        count: Number(b.count),
        meanPredicted: numOrNull(b.mean_predicted),
        observed: numOrNull(b.observed),
      })),
    });
  }
  return {
    heldOut: typeof e.held_out === 'string' ? e.held_out : 'held-out customers',
    customers: isNum(e.customers) ? e.customers : (matrix as number[][]).flat().reduce((s, v) => s + v, 0),
    producedBy: typeof e.produced_by === 'string' ? e.produced_by : null,
    calibration: { method: typeof cal.method === 'string' ? cal.method : '', classes: perClass },
    confusion: { classes, matrix: matrix as number[][] },
  };
}
