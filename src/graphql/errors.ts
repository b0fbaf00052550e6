// The error catalogue: every error a client can see carries one of these stable codes in
// `extensions.code`. Each code is documented in the README (a test keeps the two in step).
import { GraphQLError } from 'graphql';

export const ErrorCode = {
  /** The document could not be parsed. (Apollo) */
  GRAPHQL_PARSE_FAILED: 'GRAPHQL_PARSE_FAILED',
  /** The document does not match the schema. (Apollo) */
  GRAPHQL_VALIDATION_FAILED: 'GRAPHQL_VALIDATION_FAILED',
  /** An argument or input field is invalid; `extensions.field` names it. */
  BAD_USER_INPUT: 'BAD_USER_INPUT',
  /** The operation name does not match any operation in the document. (Apollo) */
  OPERATION_RESOLUTION_FAILURE: 'OPERATION_RESOLUTION_FAILURE',
  /** The HTTP request itself is malformed (no query, wrong method or content type). (Apollo) */
  BAD_REQUEST: 'BAD_REQUEST',
  /** The request body is larger than BODY_LIMIT. (HTTP 413) */
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  /** No such HTTP route. (HTTP 404) */
  NOT_FOUND: 'NOT_FOUND',
  /** `first` is above MAX_PAGE_SIZE. */
  PAGE_SIZE_EXCEEDED: 'PAGE_SIZE_EXCEEDED',
  /** `after` is not a cursor this server issued for this list and ordering. */
  INVALID_CURSOR: 'INVALID_CURSOR',
  /** The referenced customer does not exist. */
  CUSTOMER_NOT_FOUND: 'CUSTOMER_NOT_FOUND',
  /** An externalId was reused with different content (idempotency key conflict). */
  IDEMPOTENCY_CONFLICT: 'IDEMPOTENCY_CONFLICT',
  /** A unique value (such as an email) already belongs to another record. */
  ALREADY_EXISTS: 'ALREADY_EXISTS',
  /** The inference queue is full; retry after a short wait. */
  OVERLOADED: 'OVERLOADED',
  /** An explanation could not be computed (its worker thread failed); details are logged. The request's other fields still answer. */
  EXPLANATION_FAILED: 'EXPLANATION_FAILED',
  /** The database is unreachable or overloaded; retry later. */
  SERVICE_UNAVAILABLE: 'SERVICE_UNAVAILABLE',
  /** No valid credential: the Authorization header is missing (when AUTH_MODE=required), malformed, unknown or revoked. (HTTP 401) */
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  /** The credential's role may not read this field or this customer, or may not run mutations. */
  FORBIDDEN: 'FORBIDDEN',
  /** The document exceeds a limit (depth, aliases, directives, tokens, length or cost); `extensions.limit` names it. (HTTP 400) */
  QUERY_LIMIT_EXCEEDED: 'QUERY_LIMIT_EXCEEDED',
  /** A correctly signed shopper token (JWT) whose `exp` has passed: get a fresh one. (HTTP 401) */
  TOKEN_EXPIRED: 'TOKEN_EXPIRED',
  /** Too many requests from this client; retry after `Retry-After` seconds. (HTTP 429) */
  RATE_LIMITED: 'RATE_LIMITED',
  /** The request carries `extensions.persistedQuery` (automatic persisted queries are off): resend with `query`. (Apollo) */
  PERSISTED_QUERY_NOT_SUPPORTED: 'PERSISTED_QUERY_NOT_SUPPORTED',
  /** The Host header is not an allowed name (DNS-rebinding guard: loopback names only with AUTH_MODE=off, else ALLOWED_HOSTS). (HTTP 403) */
  HOST_NOT_ALLOWED: 'HOST_NOT_ALLOWED',
  /** A browser preflight from an origin not in CORS_ORIGINS. (HTTP 403) */
  CORS_ORIGIN_NOT_ALLOWED: 'CORS_ORIGIN_NOT_ALLOWED',
  /** Anything unexpected; details are logged, never sent. */
  INTERNAL_SERVER_ERROR: 'INTERNAL_SERVER_ERROR',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export function appError(code: ErrorCode, message: string, extensions: Record<string, unknown> = {}): GraphQLError {
  return new GraphQLError(message, { extensions: { code, ...extensions } });
}

/** Invalid input: `field` is the path of the offending argument, e.g. `input.amount`. */
export function badInput(field: string, message: string): GraphQLError {
  return appError(ErrorCode.BAD_USER_INPUT, `${field}: ${message}`, { field });
}
