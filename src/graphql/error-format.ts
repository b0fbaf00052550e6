// What clients see of a failure: catalogue errors pass through; database unavailability becomes
// SERVICE_UNAVAILABLE; everything else is masked as INTERNAL_SERVER_ERROR (and logged, with the
// request id, by the server's error-logging plugin).
import type { GraphQLFormattedError } from 'graphql';
import { unwrapResolverError } from '@apollo/server/errors';
import { QueueFullError } from '../inference/batcher.js';
import { ExplanationError } from '../inference/explain/pool.js';
import { ErrorCode } from './errors.js';
import { isDatabaseUnavailable } from '../db/errors.js';

/** True when `err` or an error it wraps (`originalError`, up to a few levels) is an instance of `kind`. */
function causedBy(err: unknown, kind: new (...args: never[]) => Error): boolean {
  for (let e = err as { originalError?: unknown } | undefined, depth = 0; e && depth < 4; e = e.originalError as typeof e, depth++) {
    if (e instanceof kind) return true;
  }
  return false;
}

const passThrough = new Set<string>(Object.values(ErrorCode).filter((c) => c !== ErrorCode.INTERNAL_SERVER_ERROR));

// graphql-js appends hints that name schema members ("Did you mean "x", "y", or "z"?", "Did you
// mean the enum value "CREATED_AT"?") to validation and coercion messages. Suggested names are
// GraphQL names, so they never contain "?".
const suggestionHint = /\s*Did you mean [^?]*\?/g;

/** A message without its "Did you mean …?" hints. */
export const withoutSuggestions = (message: string) => message.replace(suggestionHint, '');

/**
 * Apollo's formatError. `hideSuggestions` (on whenever introspection is off) strips every "Did you
 * mean …?" hint — field, argument, type, input field and enum value alike — from every message,
 * since each one reveals part of a schema that introspection would not show.
 */
export function createFormatError(options: { hideSuggestions: boolean }) {
  if (!options.hideSuggestions) return formatError;
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const result = formatError(formatted, error);
    return { ...result, message: withoutSuggestions(result.message) };
  };
}

export function formatError(formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError {
  const code = formatted.extensions?.code;
  // A document nested deeper than the parser's recursion (e.g. thousands of `[` in a literal)
  // overflows the stack while parsing; the client learns that, not the engine's own words.
  if (code === ErrorCode.GRAPHQL_PARSE_FAILED && causedBy(error, RangeError)) {
    return { message: 'Syntax Error: the document is nested too deeply to parse.', extensions: { code } };
  }
  if (typeof code === 'string' && passThrough.has(code)) {
    // Apollo adds a stack trace in development; clients never need it.
    const { stacktrace: _stack, ...extensions } = formatted.extensions ?? {};
    return { ...formatted, extensions };
  }
  const original = unwrapResolverError(error);
  if (original instanceof QueueFullError) {
    return { message: 'Inference is overloaded; retry shortly.', path: formatted.path, extensions: { code: ErrorCode.OVERLOADED } };
  }
  if (original instanceof ExplanationError) {
    return { message: 'The explanation could not be computed; retry shortly.', path: formatted.path, extensions: { code: ErrorCode.EXPLANATION_FAILED } };
  }
  if (isDatabaseUnavailable(original)) {
    return { message: 'The database is unavailable; retry later.', path: formatted.path, extensions: { code: ErrorCode.SERVICE_UNAVAILABLE } };
  }
  return { message: 'Internal server error', path: formatted.path, extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR } };
}

/**
 * Refusals: the request as a whole could not be served now (inference queue full, database
 * unavailable). The client's answer is to retry the request, so saying it once is enough.
 */
export const refusalCodes: ReadonlySet<string> = new Set([ErrorCode.OVERLOADED, ErrorCode.SERVICE_UNAVAILABLE]);

/** The code a raw (not yet formatted) error will be given by formatError, for logging decisions. */
export function codeOf(err: { extensions?: Record<string, unknown>; originalError?: unknown }): string {
  const code = err.extensions?.code;
  if (typeof code === 'string' && code !== ErrorCode.INTERNAL_SERVER_ERROR) return code;
  const original = unwrapResolverError(err);
  if (original instanceof QueueFullError) return ErrorCode.OVERLOADED;
  if (original instanceof ExplanationError) return ErrorCode.EXPLANATION_FAILED;
  if (isDatabaseUnavailable(original)) return ErrorCode.SERVICE_UNAVAILABLE;
  return ErrorCode.INTERNAL_SERVER_ERROR;
}

/**
 * One error per cause: a refusal or an internal failure hits every field that needed the refused
 * work (15 aliases × 200 customers were 3,000 identical OVERLOADED errors, a 2 MB answer). Errors
 * with the same refusal or internal code and message are merged into the first, which gets
 * `extensions.occurrences`. Other errors (bad input, forbidden fields…) are left as they are.
 */
export function collapseRepeatedErrors(errors: readonly GraphQLFormattedError[]): GraphQLFormattedError[] {
  const out: GraphQLFormattedError[] = [];
  const firstOf = new Map<string, number>();
  const counts: number[] = [];
  for (const e of errors) {
    const code = e.extensions?.code;
    const collapsible =
      typeof code === 'string' && (refusalCodes.has(code) || code === ErrorCode.INTERNAL_SERVER_ERROR || code === ErrorCode.EXPLANATION_FAILED);
    const key = collapsible ? `${code}\u0000${e.message}` : undefined;
    const at = key === undefined ? undefined : firstOf.get(key);
    if (at !== undefined) {
      counts[at] += 1;
      continue;
    }
    if (key !== undefined) firstOf.set(key, out.length);
    counts[out.length] = 1;
    out.push(e);
  }
  return out.map((e, i) => (counts[i] > 1 ? { ...e, extensions: { ...e.extensions, occurrences: counts[i] } } : e));
}
