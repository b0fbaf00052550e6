// The dashboard's only door to data: POST /graphql with the session's key as a Bearer token.
// Typed documents come from GraphQL Code Generator (codegen.yml) out of operations/*.graphql.
import type { TypedDocumentString } from './generated/graphql';
import { loadSession } from './session';

export interface GraphQLErrorShape {
  message: string;
  extensions?: { code?: string; [k: string]: unknown };
}

export class ApiError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
    readonly status: number,
    readonly errors: GraphQLErrorShape[] = [],
  ) {
    super(message);
  }
}

export const ENDPOINT = '/graphql';

export async function request<R, V>(document: TypedDocumentString<R, V> | string, variables?: V, apiKey?: string, signal?: AbortSignal): Promise<R> {
  const key = apiKey ?? loadSession()?.apiKey ?? '';
  const operationName = /^\s*(?:query|mutation)\s+(\w+)/.exec(String(document))?.[1];
  let res: Response;
  try {
    res = await fetch(ENDPOINT, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
      body: JSON.stringify({ query: String(document), variables, operationName }),
      signal,
    });
  } catch (err) {
    if ((err as Error).name === 'AbortError') throw err;
    throw new ApiError('The server cannot be reached.', 'NETWORK', 0);
  }
  let body: { data?: R | null; errors?: GraphQLErrorShape[] };
  try {
    body = await res.json();
  } catch {
    throw new ApiError(`The server answered HTTP ${res.status} without a GraphQL response.`, undefined, res.status);
  }
  if (body.errors?.length) {
    const first = body.errors[0]!;
    throw new ApiError(first.message, first.extensions?.code, res.status, body.errors);
  }
  if (!body.data) throw new ApiError('Empty response', undefined, res.status);
  return body.data;
}
