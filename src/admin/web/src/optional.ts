// Fields that a newer API may have and this build's typed operations do not: model status,
// baselines and quality gate, and the promoteModel mutation. They are asked for in separate,
// untyped operations; a server without them answers GRAPHQL_VALIDATION_FAILED, and the page simply
// leaves those parts out. (When schema.graphql has them, move them into operations/*.graphql.)
import { ApiError, request } from './api';

export interface ModelExtras {
  status?: string | null;
  baselines?: Record<string, unknown> | null;
  gate?: Record<string, unknown> | null;
}

const key = (name: string, version: string) => `${name}@${version}`;

async function optional<R>(query: string): Promise<R | null> {
  try {
    return await request<R, Record<string, never>>(query, {});
  } catch (err) {
    if (err instanceof ApiError && err.code === 'GRAPHQL_VALIDATION_FAILED') return null;
    throw err;
  }
}

const optionalFields = ['status', 'baselines', 'gate'] as const;

// Which optional fields the server has: asked once per page load (each absent field costs one
// refused request, which the browser's console lists as a 400).
let supported: Promise<string[]> | undefined;
function supportedFields(): Promise<string[]> {
  supported ??= Promise.all(optionalFields.map(async (f): Promise<string | null> => ((await optional(`query ModelField { models { name ${f} } }`)) ? f : null))).then(
    (fs) => fs.filter((f): f is string => f !== null),
    (err: unknown) => {
      supported = undefined;
      throw err;
    },
  );
  return supported!;
}

/** Status, baselines and gate per model version, by "name@version"; fields the server lacks are absent. */
export async function modelExtras(): Promise<Map<string, ModelExtras>> {
  const fields = await supportedFields();
  const out = new Map<string, ModelExtras>();
  if (!fields.length) return out;
  const data = await request<{ models: ({ name: string; version: string } & ModelExtras)[] }, Record<string, never>>(`query ModelExtras { models { name version ${fields.join(' ')} } }`, {});
  for (const m of data.models) out.set(key(m.name, m.version), m);
  return out;
}

export const extrasOf = (extras: Map<string, ModelExtras> | undefined, name: string, version: string): ModelExtras => extras?.get(key(name, version)) ?? {};

let promotable: Promise<boolean> | undefined;
/**
 * Whether the server has `promoteModel(name, version)`. The probe document holds the mutation but
 * runs only its harmless query: the whole document is validated, nothing is promoted.
 */
export function canPromote(): Promise<boolean> {
  const probe = 'query PromoteProbe { __typename } mutation PromoteModel($name: String!, $version: String!) { promoteModel(name: $name, version: $version) { __typename } }';
  promotable ??= request(probe, {}).then(
    () => true,
    (err: unknown) => {
      if (err instanceof ApiError && err.code === 'GRAPHQL_VALIDATION_FAILED') return false;
      promotable = undefined;
      throw err;
    },
  );
  return promotable;
}

export async function promote(name: string, version: string): Promise<void> {
  await request(
    'mutation PromoteModel($name: String!, $version: String!) { promoteModel(name: $name, version: $version) { __typename } }',
    { name, version },
  );
}
