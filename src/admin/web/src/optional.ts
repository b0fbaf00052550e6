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

/** Status, baselines and gate per model version, by "name@version"; fields the server lacks are absent. */
export async function modelExtras(): Promise<Map<string, ModelExtras>> {
  const out = new Map<string, ModelExtras>();
  for (const fields of ['status', 'baselines', 'gate']) {
    const data = await optional<{ models: ({ name: string; version: string } & ModelExtras)[] }>(`query ModelExtras { models { name version ${fields} } }`);
    for (const m of data?.models ?? []) out.set(key(m.name, m.version), { ...out.get(key(m.name, m.version)), ...m });
  }
  return out;
}

export const extrasOf = (extras: Map<string, ModelExtras> | undefined, name: string, version: string): ModelExtras => extras?.get(key(name, version)) ?? {};

/**
 * Whether the server has `promoteModel(name, version)`. The probe document holds the mutation but
 * runs only its harmless query: the whole document is validated, nothing is promoted.
 */
export async function canPromote(): Promise<boolean> {
  const probe = 'query PromoteProbe { __typename } mutation PromoteModel($name: String!, $version: String!) { promoteModel(name: $name, version: $version) { __typename } }';
  try {
    await request(probe, {});
    return true;
  } catch (err) {
    if (err instanceof ApiError && err.code === 'GRAPHQL_VALIDATION_FAILED') return false;
    throw err;
  }
}

export async function promote(name: string, version: string): Promise<void> {
  await request(
    'mutation PromoteModel($name: String!, $version: String!) { promoteModel(name: $name, version: $version) { __typename } }',
    { name, version },
  );
}
