// Derived data follows the policy of the data it is derived from. A feature value such as
// `age_years` at a caller-chosen `asOf` gives the birth date back; `is_female` is the gender; an
// order-derived value is the orders. So an explanation shows a value (its number, its display
// text, a label or summary clause that states it) only to a caller whose role may read — `allow`,
// not `mask` — every customer field the value comes from. The feature spec declares each
// feature's sources (src/features/spec.ts); this table says which fields of the policy hold them.
import type { FeatureSource } from '../../features/spec.js';
import type { Role } from '../../auth/principal.js';
import { ruleFor, sourceFields } from './policy.js';

/** The policy keys through which each source can be read (defined beside the policy). */
export { sourceFields };

/** True when `role` may read every field holding `source` (masked or guarded fields do not count). */
export function mayReadSource(role: Role, source: FeatureSource): boolean {
  return sourceFields[source].every((key) => {
    const [type, field] = key.split('.') as [string, string];
    return ruleFor(role, type, field) === 'allow';
  });
}

const cache = new Map<Role, (sources: readonly FeatureSource[]) => boolean>();

/** For one role: may a value derived from all of `sources` be shown? (Memoised per role.) */
export function derivedValueReadable(role: Role): (sources: readonly FeatureSource[]) => boolean {
  let check = cache.get(role);
  if (!check) {
    const readable = new Map<FeatureSource, boolean>();
    check = (sources) =>
      sources.every((s) => {
        let ok = readable.get(s);
        if (ok === undefined) readable.set(s, (ok = mayReadSource(role, s)));
        return ok;
      });
    cache.set(role, check);
  }
  return check;
}
