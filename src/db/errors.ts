// Which failures mean "the database cannot serve right now" (a retry may succeed), across Prisma,
// node-postgres and the embedded database's socket. Used by the API (SERVICE_UNAVAILABLE), the
// authentication middleware and start-up checks alike.
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
