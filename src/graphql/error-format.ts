// What clients see of a failure: catalogue errors pass through; database unavailability becomes
// SERVICE_UNAVAILABLE; everything else is masked as INTERNAL_SERVER_ERROR (and logged, with the
// request id, by the server's error-logging plugin).
import type { GraphQLFormattedError } from 'graphql';
import { unwrapResolverError } from '@apollo/server/errors';
import { QueueFullError } from '../inference/batcher.js';
import { ErrorCode } from './errors.js';

const unavailableKinds = new Set(['DatabaseNotReachable', 'ConnectionClosed', 'SocketTimeout', 'TooManyConnections', 'DatabaseDoesNotExist']);
const unavailablePrismaCodes = new Set(['P1001', 'P1002', 'P1008', 'P1017', 'P2024']);
const unavailableNodeCodes = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND']);
// node-postgres reports a connection cut mid-query (server shutdown, network loss) as a plain Error.
const unavailableMessages = /^(Connection terminated|Connection ended|terminating connection|timeout exceeded when trying to connect|Client has encountered a connection error)/i;

/** True when the error means "the database cannot serve right now", so a retry may succeed. */
export function isDatabaseUnavailable(err: unknown): boolean {
  for (let e = err as Record<string, any> | undefined, depth = 0; e && depth < 6; e = e.cause ?? e.meta?.driverAdapterError, depth++) {
    if (unavailablePrismaCodes.has(e.code) || unavailableNodeCodes.has(e.code)) return true;
    if (unavailableKinds.has(e.kind)) return true;
    if (typeof e.message === 'string' && unavailableMessages.test(e.message)) return true;
    // SQLSTATE class 08 (connection exception), 57P0x (shutdown), 53300 (too many connections).
    const state = e.originalCode ?? (e.kind === 'postgres' ? e.code : undefined);
    if (typeof state === 'string' && (state.startsWith('08') || /^57P0[1-3]$/.test(state) || state === '53300')) return true;
    if (e.name === 'PrismaClientInitializationError') return true;
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
  if (typeof code === 'string' && passThrough.has(code)) {
    // Apollo adds a stack trace in development; clients never need it.
    const { stacktrace: _stack, ...extensions } = formatted.extensions ?? {};
    return { ...formatted, extensions };
  }
  const original = unwrapResolverError(error);
  if (original instanceof QueueFullError) {
    return { message: 'Inference is overloaded; retry shortly.', path: formatted.path, extensions: { code: ErrorCode.OVERLOADED } };
  }
  if (isDatabaseUnavailable(original)) {
    return { message: 'The database is unavailable; retry later.', path: formatted.path, extensions: { code: ErrorCode.SERVICE_UNAVAILABLE } };
  }
  return { message: 'Internal server error', path: formatted.path, extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR } };
}
