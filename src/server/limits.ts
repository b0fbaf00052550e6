// Limits on hostile documents (README "Security"), all checked before execution — so before any
// resolver, loader, database statement or inference:
//   length      QUERY_MAX_LENGTH   characters of `query` (HTTP middleware, before parsing)
//   tokens      QUERY_MAX_TOKENS   lexical tokens (graphql-js parser option maxTokens)
//   depth       QUERY_MAX_DEPTH    nested selections, fragments expanded  (graphql-armor)
//   aliases     QUERY_MAX_ALIASES  aliased fields, fragments expanded     (graphql-armor)
//   directives  QUERY_MAX_DIRECTIVES                                      (graphql-armor)
//   cost        QUERY_MAX_COST     graphql-query-complexity with page sizes multiplying (below)
// Every violation is a GraphQL error with code QUERY_LIMIT_EXCEEDED, HTTP 400, and
// `extensions.limit` / `extensions.max` naming the limit.
// Expensive documents (cost ≥ HEAVY_QUERY_COST) also take turns: at most HEAVY_QUERY_CONCURRENCY
// of them execute at once, the others wait in order (HEAVY_QUERY_QUEUE at most, beyond which
// OVERLOADED). A 1000-row explanation page is ~0.2 s of the event loop's work; eight of them at
// once interleave so finely that every cheap request waits behind all eight.
import { ApolloArmor } from '@escape.tech/graphql-armor';
import type { ApolloServerPlugin } from '@apollo/server';
import type { NextFunction, Request, Response } from 'express';
import { GraphQLError, Kind, getNamedType, isLeafType, visit, type DocumentNode, type FragmentDefinitionNode, type SelectionSetNode, type ValidationContext } from 'graphql';
import { getComplexity, type ComplexityEstimator } from 'graphql-query-complexity';
import pLimit from 'p-limit';
import type { Config } from '../config.js';
import { ErrorCode, appError } from '../graphql/errors.js';
import { DEFAULT_HORIZON_DAYS, MAX_HORIZON_DAYS } from '../lifetime/card.js';

export type LimitName = 'length' | 'tokens' | 'depth' | 'aliases' | 'directives' | 'cost';

const limitError = (limit: LimitName, max: number, message: string) =>
  new GraphQLError(message, { extensions: { code: ErrorCode.QUERY_LIMIT_EXCEEDED, limit, max, http: { status: 400 } } });

/**
 * Cost model: a scalar costs 0, an object field 1, a field with a page size `first` costs 1 plus
 * `first` (its default: DEFAULT_PAGE_SIZE) times its selection, `totalCount` 1 (a COUNT query),
 * `segment`/`probability`/`segmentProbabilities` 1 per customer, `lifetime` 1 + ⌈horizonDays / 365⌉
 * per customer (2 at the default 90 days). A prediction and an explanation
 * cost what their model's method costs per customer (ExplanationPricing, below). So
 * `customers(first: 1000) { edges { node { stats { orderCount } orders(first: 5) { edges { node { id } } } } } }`
 * costs 1 + 1000 × 14.
 */
const extraCost: Record<string, number> = {
  'CustomerConnection.totalCount': 1,
  'OrderConnection.totalCount': 1,
  'Customer.segment': 1,
  'Customer.probability': 1,
  'Customer.segmentProbabilities': 1,
};

/**
 * Cost per customer of explaining with each method, in units of one XGBoost prediction (measured
 * by bench/explanations.ts on 2 cores: TreeSHAP ≈ 14×, the linear explanation ≈ 2×, one
 * transformer inference ≈ 5×). Occlusion runs 1 + sequence length inferences per customer and
 * is priced at the longest sequence, since the cost is decided before any data is read.
 */
export const explanationMethodCost: Record<string, number> = { tree_shap: 15, linear: 2 };
/** One inference of a sequence model, in the same units. */
export const SEQUENCE_INFERENCE_COST = 5;

/** Per model: the cost of one customer's prediction and of its explanation. */
export interface ModelPrice {
  prediction: number;
  explanation: number;
}

export interface ExplanationPricing {
  /** Price of a model by name; the default model's for null; the dearest served model's for an unknown name (execution refuses it later). */
  price(model: string | null | undefined): ModelPrice;
}

/** Prices from the served models: their explanation method and, for sequence models, their length. */
export function modelPricing(
  defaultModel: string,
  models: readonly { name: string; method: string; sequenceLength?: number }[],
): ExplanationPricing {
  const prices = new Map<string, ModelPrice>();
  for (const m of models) {
    const inference = m.sequenceLength !== undefined ? SEQUENCE_INFERENCE_COST : 1;
    const explanation =
      m.method === 'occlusion' ? (1 + (m.sequenceLength ?? 0)) * inference : (explanationMethodCost[m.method] ?? Math.max(...Object.values(explanationMethodCost)));
    prices.set(m.name, { prediction: inference, explanation });
  }
  const all = [...prices.values()];
  const dearest: ModelPrice = {
    prediction: Math.max(1, ...all.map((p) => p.prediction)),
    explanation: Math.max(...Object.values(explanationMethodCost), ...all.map((p) => p.explanation)),
  };
  return { price: (name) => prices.get(name ?? defaultModel) ?? dearest };
}

/** Before the served models are known (unit tests): every model priced as the dearest tabular method. */
const flatPricing: ExplanationPricing = modelPricing('', []);

/** `explanation` fields directly under a selection (through inline fragments and fragment spreads). */
function explanationsIn(selectionSet: SelectionSetNode | undefined, fragments: Record<string, FragmentDefinitionNode>, seen = new Set<string>()): number {
  let n = 0;
  for (const sel of selectionSet?.selections ?? []) {
    if (sel.kind === Kind.FIELD) n += sel.name.value === 'explanation' ? 1 : 0;
    else if (sel.kind === Kind.INLINE_FRAGMENT) n += explanationsIn(sel.selectionSet, fragments, seen);
    else if (!seen.has(sel.name.value)) {
      seen.add(sel.name.value); // fragment cycles are refused by validation; never loop here
      n += explanationsIn(fragments[sel.name.value]?.selectionSet, fragments, seen);
      seen.delete(sel.name.value);
    }
  }
  return n;
}

/**
 * The only arguments the cost model reads (costEstimator reads them through `arg`, so a new one
 * must be named here); the cost cache keys on the variables inside them. graphql-query-complexity
 * itself also reads `@include`/`@skip`.
 */
const COST_ARGUMENTS = ['first', 'last', 'model', 'horizonDays'] as const;
type CostArgument = (typeof COST_ARGUMENTS)[number];
const isCostArgument = (name: string): name is CostArgument => (COST_ARGUMENTS as readonly string[]).includes(name);

export function costEstimator(defaultPageSize: number, pricing: ExplanationPricing = flatPricing, document?: DocumentNode): ComplexityEstimator {
  const fragments: Record<string, FragmentDefinitionNode> = {};
  for (const d of document?.definitions ?? []) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments[d.name.value] = d;
  return ({ type, field, node, args, childComplexity }) => {
    const arg = (name: CostArgument): unknown => args[name];
    const key = `${type.name}.${field.name}`;
    let own = extraCost[key] ?? (isLeafType(getNamedType(field.type)) ? 0 : 1);
    if (key === 'Customer.explanation') own = pricing.price(null).explanation;
    if (key === 'Customer.prediction') {
      // Its `explanation` fields are priced here, where the model is known (the Prediction type's
      // own `explanation` field is priced at 0 below).
      const model = arg('model');
      const price = pricing.price(typeof model === 'string' ? model : null);
      own = price.prediction + explanationsIn(node.selectionSet, fragments) * price.explanation;
    }
    if (key === 'Prediction.explanation') own = 0;
    // Lifetime: its row of the page's order statement, plus one E[Y(t)] series per 30-day step of the CLV.
    if (key === 'Customer.lifetime') {
      const days = arg('horizonDays');
      own = 1 + Math.ceil((typeof days === 'number' && days > 0 ? Math.min(days, MAX_HORIZON_DAYS) : DEFAULT_HORIZON_DAYS) / 365);
    }
    if (field.args.some((a) => a.name === 'first')) {
      const given = arg('first');
      const first = typeof given === 'number' && given >= 0 ? given : defaultPageSize;
      return own + first * childComplexity;
    }
    // Query.scoringRuns(last): a list of that many runs.
    if (field.args.some((a) => a.name === 'last')) {
      const given = arg('last');
      const last = typeof given === 'number' && given >= 0 ? given : 10;
      return own + last * childComplexity;
    }
    return own + childComplexity;
  };
}

/**
 * The variables a document's cost can depend on: those inside an argument the cost model reads, or
 * inside a directive's arguments. A single-customer query's `$id` is not one of them, so every
 * request of that document shares one cost.
 */
function costVariables(document: DocumentNode): string[] {
  const names = new Set<string>();
  let depth = 0; // > 0 inside a cost argument or a directive
  visit(document, {
    Directive: { enter: () => void depth++, leave: () => void depth-- },
    Argument: {
      enter: (node) => void (isCostArgument(node.name.value) && depth++),
      leave: (node) => void (isCostArgument(node.name.value) && depth--),
    },
    Variable: (node) => void (depth > 0 && names.add(node.name.value)),
    // Only uses, not the operation's declarations (`query($first: Int)`).
    VariableDefinition: () => false,
  });
  return [...names].sort();
}

/**
 * Costs computed once per document and per values of its cost variables. Apollo hands every
 * request of a query string the same parsed document (its document store), so the cache lives as
 * long as that document does; each document keeps at most 64 variants.
 */
class CostCache {
  private readonly byDocument = new WeakMap<DocumentNode, { variables: string[]; costs: Map<string, number> }>();

  cost(document: DocumentNode, operationName: string | undefined, variables: Record<string, unknown>, compute: () => number): number {
    let entry = this.byDocument.get(document);
    if (!entry) this.byDocument.set(document, (entry = { variables: costVariables(document), costs: new Map() }));
    // Absent and null differ: an absent variable takes its declared default.
    const key = JSON.stringify([operationName ?? null, ...entry.variables.map((v) => (Object.hasOwn(variables, v) ? [variables[v]] : []))]);
    const known = entry.costs.get(key);
    if (known !== undefined) return known;
    const cost = compute(); // throws on invalid variables: nothing is cached then
    if (entry.costs.size >= 64) entry.costs.clear();
    entry.costs.set(key, cost);
    return cost;
  }
}

/** Rejects a `query` string longer than QUERY_MAX_LENGTH before it is parsed (runs after express.json). */
export function queryLengthGuard(config: Config) {
  const max = config.QUERY_MAX_LENGTH;
  return (req: Request, res: Response, next: NextFunction) => {
    const body: unknown = req.body;
    const query = req.method === 'GET' ? req.query?.query : body && typeof body === 'object' && !Array.isArray(body) ? (body as { query?: unknown }).query : undefined;
    if (typeof query === 'string' && query.length > max) {
      res.status(400).json({ errors: [{ message: `Query is longer than ${max} characters.`, extensions: { code: ErrorCode.QUERY_LIMIT_EXCEEDED, limit: 'length', max } }] });
      return;
    }
    next();
  };
}

/** Apollo options for the limits: parse options, validation rules and plugins. */
export function queryLimits(config: Config, pricing: ExplanationPricing = flatPricing): {
  parseOptions: { maxTokens: number };
  validationRules: ((context: ValidationContext) => unknown)[];
  plugins: ApolloServerPlugin<any>[];
} {
  const reject = (limit: LimitName, max: number) => (ctx: ValidationContext | null, err: GraphQLError) => {
    ctx?.reportError(limitError(limit, max, err.message.replace(/^Syntax Error: /, '')));
  };
  const armor = new ApolloArmor({
    maxDepth: { n: config.QUERY_MAX_DEPTH, propagateOnRejection: false, onReject: [reject('depth', config.QUERY_MAX_DEPTH)] },
    maxAliases: { n: config.QUERY_MAX_ALIASES, propagateOnRejection: false, onReject: [reject('aliases', config.QUERY_MAX_ALIASES)] },
    maxDirectives: { n: config.QUERY_MAX_DIRECTIVES, propagateOnRejection: false, onReject: [reject('directives', config.QUERY_MAX_DIRECTIVES)] },
    // Tokens: graphql-js's own parser limit (below); cost: graphql-query-complexity (below).
    maxTokens: { enabled: false },
    costLimit: { enabled: false },
    // "Did you mean …?" hints reveal the schema: hidden whenever introspection is.
    blockFieldSuggestion: { enabled: !config.introspection },
  }).protect();

  const maxCost = config.QUERY_MAX_COST;
  const maxTokens = config.QUERY_MAX_TOKENS;

  const heavyTurns = pLimit(config.HEAVY_QUERY_CONCURRENCY);
  /** Waits for a turn among the expensive documents; resolves to the function that ends the turn. */
  const heavyTurn = () =>
    new Promise<() => void>((started) => {
      void heavyTurns(() => new Promise<void>((ended) => started(ended)));
    });

  const costs = new CostCache();
  const limitsPlugin: ApolloServerPlugin<any> = {
    async requestDidStart() {
      let endTurn: (() => void) | undefined;
      return {
        async didResolveOperation({ schema, document, request, operationName }) {
          let cost: number;
          try {
            const variables = request.variables ?? {};
            cost = costs.cost(document, operationName ?? undefined, variables, () =>
              getComplexity({ schema, query: document, variables, operationName: operationName ?? undefined, estimators: [costEstimator(config.DEFAULT_PAGE_SIZE, pricing, document)] }),
            );
          } catch {
            return; // invalid variables: execution reports them (BAD_USER_INPUT) before any resolver
          }
          if (cost > maxCost) throw limitError('cost', maxCost, `Query cost ${cost} exceeds the maximum of ${maxCost} (page sizes multiply).`);
          if (cost >= config.HEAVY_QUERY_COST) {
            if (heavyTurns.activeCount >= config.HEAVY_QUERY_CONCURRENCY && heavyTurns.pendingCount >= config.HEAVY_QUERY_QUEUE) {
              throw appError(ErrorCode.OVERLOADED, `Too many expensive queries are running or waiting (${heavyTurns.activeCount} + ${heavyTurns.pendingCount}); retry shortly.`, {
                limit: 'heavyQueue',
                max: config.HEAVY_QUERY_QUEUE,
                http: { status: 503, headers: new Map([['retry-after', '1']]) },
              });
            }
            endTurn = await heavyTurn();
          }
        },
        // Always called once the request is answered, however it ended: the turn ends with it.
        async willSendResponse() {
          endTurn?.();
          endTurn = undefined;
        },
        // Validation and parse errors get Apollo's codes; give the limit ones their own.
        async didEncounterErrors({ errors }) {
          for (const err of errors) {
            const ext = err.extensions as Record<string, unknown>;
            if (ext.limit !== undefined && ext.code === ErrorCode.GRAPHQL_VALIDATION_FAILED) ext.code = ErrorCode.QUERY_LIMIT_EXCEEDED;
            if (ext.code === ErrorCode.GRAPHQL_PARSE_FAILED && /Document contains more tha[nt] \d+ tokens/.test(err.message)) {
              Object.assign(ext, { code: ErrorCode.QUERY_LIMIT_EXCEEDED, limit: 'tokens', max: maxTokens });
            }
          }
        },
      };
    },
  };

  return {
    parseOptions: { maxTokens },
    validationRules: armor.validationRules as ((context: ValidationContext) => unknown)[],
    plugins: [...(armor.plugins as unknown as ApolloServerPlugin<any>[]), limitsPlugin],
  };
}
