// THE authorization table: for each role, a default and rules keyed by `Type.field` (or `Type.*`).
// Every field of every object type in the schema is checked against it by field-policy.ts — one
// mechanism, no checks scattered in resolvers. Exact keys win over `Type.*`, which wins over the
// role's default. Reviewed in README "Security"; test/security.authorization.test.ts walks every
// root field and every PII field for every role.
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

/** The rule for one role and field: exact key, then `Type.*`, then the role's default. */
export function ruleFor(role: Role, typeName: string, fieldName: string): Rule {
  const p = policy[role];
  return p.fields[`${typeName}.${fieldName}`] ?? p.fields[`${typeName}.*`] ?? p.default;
}
