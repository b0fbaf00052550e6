// THE authorization table: for each role, a default and rules keyed by `Type.field` (or `Type.*`).
// Every field of every object type in the schema is checked against it by field-policy.ts — one
// mechanism, no checks scattered in resolvers. Exact keys win over `Type.*`, which wins over the
// role's default. Reviewed in README "Security"; test/security.authorization.test.ts walks every
// root field and every PII field for every role.
import type { FeatureSource } from '../../features/spec.js';
import type { Principal, Role } from '../../auth/principal.js';

/**
 * - `allow` / `deny` (→ FORBIDDEN, the resolver never runs)
 * - `mask`: the value is replaced — `"***"` for a string that is set, `null` otherwise (PII for BI)
 * - a guard `(args, principal) => boolean`: allowed only when it returns true (row-level checks
 *   decided from the arguments alone, before any database work)
 */
export type Rule = 'allow' | 'deny' | 'mask' | ((args: Record<string, unknown>, principal: Principal) => boolean);

export interface RolePolicy {
  default: 'allow' | 'deny';
  fields: Record<string, Rule>;
}

/** The fields holding personal data. */
export const piiFields = ['Customer.email', 'Customer.name', 'Customer.birthDate'] as const;

const sameId = (a: unknown, b: string | undefined) => typeof a === 'string' && b !== undefined && a.trim().toLowerCase() === b.toLowerCase();

/** A `frontend` credential reads only its own customer, named by id or by externalId. */
const ownCustomerById: Rule = (args, p) => sameId(args.id, p.customerId);
const ownCustomerByExternalId: Rule = (args, p) => typeof args.externalId === 'string' && args.externalId === p.customerExternalId;

export const policy: Record<Role, RolePolicy> = {
  // Everything.
  admin: { default: 'allow', fields: {} },

  // Bulk reads and aggregates; personal data masked; no writes.
  bi: {
    default: 'allow',
    fields: {
      'Mutation.*': 'deny',
      'Customer.email': 'mask',
      'Customer.name': 'mask',
      'Customer.birthDate': 'mask',
    },
  },

  // The storefront, for one signed-in shopper: that customer's predictions and nothing else.
  frontend: {
    default: 'deny',
    fields: {
      'Query.customer': ownCustomerById,
      'Query.customerByExternalId': ownCustomerByExternalId,
      // Its own role only (README: every caller may ask).
      'Query.viewer': 'allow',
      'Viewer.*': 'allow',
      // Identifiers the caller already holds (client caches key on them).
      'Customer.id': 'allow',
      'Customer.externalId': 'allow',
      'Customer.segment': 'allow',
      'Customer.probability': 'allow',
      'Customer.segmentProbabilities': 'allow',
      'Customer.explanation': 'allow',
      'Customer.prediction': 'allow',
      'Prediction.*': 'allow',
      'SegmentProbability.*': 'allow',
      'Explanation.*': 'allow',
      'Contribution.*': 'allow',
    },
  },
};

/**
 * The policy keys (`Type.field`) through which each source of derived data can be read. Orders are
 * readable one by one (`Customer.orders`) and as aggregates (`Customer.stats`); both count.
 */
export const sourceFields: Readonly<Record<FeatureSource, readonly string[]>> = {
  orders: ['Customer.orders', 'Customer.stats'],
  createdAt: ['Customer.createdAt'],
  birthDate: ['Customer.birthDate'],
  gender: ['Customer.gender'],
};

/**
 * Fields whose values are computed from other customer data. They have no rule of their own: each
 * role gets the rule of the fields they derive from (`derivedRule`), so a role that may not read a
 * customer's orders may not read the lifetime value computed from them either.
 */
export const derivedFields: Readonly<Record<string, readonly [FeatureSource, ...FeatureSource[]]>> = {
  // BG/NBD + Gamma-Gamma from the paid orders (src/lifetime/summary.ts).
  'Customer.lifetime': ['orders'],
  'Lifetime.*': ['orders'],
  // The same figures stored by batch scoring.
  'StoredScore.pAlive': ['orders'],
  'StoredScore.expectedOrders': ['orders'],
  'StoredScore.predictedClv': ['orders'],
};

const strictness: Record<'allow' | 'mask' | 'deny', number> = { allow: 0, mask: 1, deny: 2 };

/** The strictest rule of the fields holding `sources` (a guard counts as deny: it checks other arguments). */
function derivedRule(role: Role, sources: readonly FeatureSource[]): 'allow' | 'mask' | 'deny' {
  let rule: 'allow' | 'mask' | 'deny' = 'allow';
  for (const key of sources.flatMap((s) => sourceFields[s])) {
    const [type, field] = key.split('.') as [string, string];
    const r = directRule(role, type, field);
    const plain = typeof r === 'function' ? 'deny' : r;
    if (strictness[plain] > strictness[rule]) rule = plain;
  }
  return rule;
}

function directRule(role: Role, typeName: string, fieldName: string): Rule {
  const p = policy[role];
  return p.fields[`${typeName}.${fieldName}`] ?? p.fields[`${typeName}.*`] ?? p.default;
}

/** The rule for one role and field: a derived field's from its sources; else exact key, then `Type.*`, then the role's default. */
export function ruleFor(role: Role, typeName: string, fieldName: string): Rule {
  const sources = derivedFields[`${typeName}.${fieldName}`] ?? derivedFields[`${typeName}.*`];
  return sources ? derivedRule(role, sources) : directRule(role, typeName, fieldName);
}
