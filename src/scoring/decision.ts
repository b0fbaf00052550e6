// The class rule: ONE function turns a model's ONNX probabilities into the served segment and
// probabilities. Live predictions (GraphQL), stored scores and batch scoring all call `decide`, so
// they never disagree. The card of each model version says how (python-export/segments/decision.py
// fits both keys on validation customers, never on the held-out ones):
//
//   calibration:   { kind: "temperature_prior_shift", temperature: T, log_prior_shift: [s_0..s_K-1] }
//                  p_k ∝ exp(log q_k / T + s_k)   (q = the ONNX probabilities)
//   decision_rule: { kind: "weighted_argmax", weights: { <class key>: w_k } }
//                  segment = argmax_k(p_k · w_k), the first class on ties; probability = p_segment
//
// A card without `calibration` serves the ONNX probabilities; without `decision_rule`, plain argmax.
import type { ModelCard } from '../inference/registry.js';

export interface DecisionRule {
  /** Per class, in the model's class order; null = plain argmax. */
  weights: Float64Array | null;
  temperature: number;
  /** Per class log-odds offset (prior shift); null with temperature 1 = no recalibration. */
  shift: Float64Array | null;
}

export interface Decision {
  classIndex: number;
  /** The served (recalibrated) probabilities, in class order. */
  probabilities: Float32Array;
}

export class DecisionRuleError extends Error {
  override name = 'DecisionRuleError';
}

const EPS = 1e-15;

/** Reads and checks a card's decision keys (the registry calls this at load: a bad card is refused). */
export function parseDecisionRule(card: ModelCard, classes: readonly string[]): DecisionRule {
  const rule: DecisionRule = { weights: null, temperature: 1, shift: null };
  const d = card.decision_rule as { kind?: unknown; weights?: unknown } | undefined;
  if (d !== undefined && d !== null) {
    if (d.kind !== 'weighted_argmax') throw new DecisionRuleError(`decision_rule.kind is ${JSON.stringify(d.kind)}, expected "weighted_argmax"`);
    const w = d.weights as Record<string, unknown> | undefined;
    if (!w || typeof w !== 'object') throw new DecisionRuleError('decision_rule.weights must be an object keyed by class');
    const unknown = Object.keys(w).filter((k) => !classes.includes(k));
    if (unknown.length) throw new DecisionRuleError(`decision_rule.weights has unknown classes ${unknown.join(', ')} (classes: ${classes.join(', ')})`);
    rule.weights = Float64Array.from(classes, (c) => {
      const v = w[c];
      if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new DecisionRuleError(`decision_rule.weights.${c} must be a positive number`);
      return v;
    });
  }
  const c = card.calibration as { kind?: unknown; temperature?: unknown; log_prior_shift?: unknown } | undefined;
  if (c !== undefined && c !== null) {
    if (c.kind !== 'temperature_prior_shift') throw new DecisionRuleError(`calibration.kind is ${JSON.stringify(c.kind)}, expected "temperature_prior_shift"`);
    if (typeof c.temperature !== 'number' || !Number.isFinite(c.temperature) || c.temperature <= 0) {
      throw new DecisionRuleError('calibration.temperature must be a positive number');
    }
    const s = c.log_prior_shift;
    if (!Array.isArray(s) || s.length !== classes.length || !s.every((v) => typeof v === 'number' && Number.isFinite(v))) {
      throw new DecisionRuleError(`calibration.log_prior_shift must be ${classes.length} numbers`);
    }
    rule.temperature = c.temperature;
    rule.shift = Float64Array.from(s as number[]);
  }
  return rule;
}

const parsed = new WeakMap<ModelCard, DecisionRule>();

/** The card's rule, parsed once per card (the registry parses it at load, so a bad rule refuses the model there). */
export function decisionRuleOf(model: { card: ModelCard; classes: readonly string[] }): DecisionRule {
  let rule = parsed.get(model.card);
  if (!rule) {
    rule = parseDecisionRule(model.card, model.classes);
    parsed.set(model.card, rule);
  }
  return rule;
}

/** The served probabilities (recalibrated per the card) of one row of ONNX probabilities. */
export function servedProbabilities(rule: DecisionRule, raw: ArrayLike<number>): Float32Array {
  if (rule.temperature === 1 && !rule.shift) return Float32Array.from(raw as ArrayLike<number>);
  const k = raw.length;
  const z = new Float64Array(k);
  let max = -Infinity;
  for (let i = 0; i < k; i++) {
    z[i] = Math.log(Math.max(raw[i], EPS)) / rule.temperature + (rule.shift ? rule.shift[i] : 0);
    if (z[i] > max) max = z[i];
  }
  let sum = 0;
  for (let i = 0; i < k; i++) {
    z[i] = Math.exp(z[i] - max);
    sum += z[i];
  }
  const out = new Float32Array(k);
  for (let i = 0; i < k; i++) out[i] = z[i] / sum;
  return out;
}

/** argmax_k(p_k · w_k) (plain argmax without weights), the first class on ties. */
export function weightedArgmax(p: ArrayLike<number>, weights: ArrayLike<number> | null): number {
  let best = 0;
  let bestScore = weights ? p[0] * weights[0] : p[0];
  for (let k = 1; k < p.length; k++) {
    const s = weights ? p[k] * weights[k] : p[k];
    if (s > bestScore) {
      best = k;
      bestScore = s;
    }
  }
  return best;
}

/** The one class rule of the service: recalibrate, then the weighted argmax, as the model's card says. */
export function decide(model: { card: ModelCard; classes: readonly string[] }, raw: ArrayLike<number>): Decision {
  const rule = decisionRuleOf(model);
  const probabilities = servedProbabilities(rule, raw);
  return { classIndex: weightedArgmax(probabilities, rule.weights), probabilities };
}

/** What the API says about a version's rule (model cards, admin). */
export function describeDecisionRule(card: ModelCard): string {
  const d = card.decision_rule as { weights?: Record<string, number>; tuned_on?: string } | undefined;
  const c = card.calibration as { temperature?: number; fitted_on?: string } | undefined;
  const parts: string[] = [];
  parts.push(c ? `probabilities recalibrated (temperature ${c.temperature?.toFixed(3)} and prior shift, fitted on ${c.fitted_on})` : 'probabilities as the model outputs them');
  parts.push(
    d?.weights
      ? `segment = argmax of probability × class weight (${Object.entries(d.weights).map(([k, v]) => `${k} ${v.toFixed(3)}`).join(', ')}; tuned on ${d.tuned_on})`
      : 'segment = the most probable class',
  );
  return parts.join('; ');
}
