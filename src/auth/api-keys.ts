// API keys: `cia_` + 43 characters of base64url (32 random bytes). Only their sha256 is stored (a
// salt or a slow hash adds nothing for 256-bit random secrets); the key is shown once, at creation.
// Looked up per request through a short-lived cache (AUTH_CACHE_TTL_SECONDS), so a revocation takes
// effect within that time in every running process.
import { createHash, randomBytes } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { Database } from '../db/client.js';
import { isRole, type Principal, type Role } from './principal.js';

export const KEY_PREFIX = 'cia_';
const keyPattern = /^cia_[A-Za-z0-9_-]{43}$/;

export const hashKey = (key: string) => createHash('sha256').update(key, 'utf8').digest('hex');

export function generateKey(): string {
  return KEY_PREFIX + randomBytes(32).toString('base64url');
}

export interface CreatedKey {
  id: string;
  key: string;
  role: Role;
  name: string | null;
  customerId: string | null;
  customerExternalId: string | null;
}

export class ApiKeyError extends Error {
  override name = 'ApiKeyError';
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Creates a key. `frontend` needs a customer (its id or externalId); other roles must not have one. */
export async function createApiKey(db: Database, opts: { role: string; customer?: string; name?: string }): Promise<CreatedKey> {
  if (!isRole(opts.role)) throw new ApiKeyError(`--role must be admin, bi or frontend (got ${JSON.stringify(opts.role)})`);
  let customer: { id: string; externalId: string } | null = null;
  if (opts.role === 'frontend') {
    if (!opts.customer) throw new ApiKeyError('a frontend key is bound to one customer: give --customer <id or externalId>');
    const where = uuidPattern.test(opts.customer) ? { OR: [{ id: opts.customer }, { externalId: opts.customer }] } : { externalId: opts.customer };
    customer = await db.prisma.customer.findFirst({ where, select: { id: true, externalId: true } });
    if (!customer) throw new ApiKeyError(`no customer with id or externalId ${JSON.stringify(opts.customer)}`);
  } else if (opts.customer) {
    throw new ApiKeyError('--customer applies to frontend keys only');
  }
  const key = generateKey();
  const row = await db.prisma.apiKey.create({
    data: { role: opts.role, name: opts.name ?? null, keyHash: hashKey(key), prefix: key.slice(0, 12), customerId: customer?.id ?? null },
  });
  return { id: row.id, key, role: opts.role, name: row.name, customerId: customer?.id ?? null, customerExternalId: customer?.externalId ?? null };
}

export async function listApiKeys(db: Database) {
  const rows = await db.prisma.apiKey.findMany({ orderBy: { createdAt: 'asc' }, include: { customer: { select: { externalId: true } } } });
  return rows.map((r) => ({
    id: r.id,
    prefix: r.prefix,
    role: r.role,
    name: r.name,
    customer: r.customer?.externalId ?? null,
    createdAt: r.createdAt,
    revokedAt: r.revokedAt,
  }));
}

/** Revokes a key by id or by its prefix; returns false when there is no such active key. */
export async function revokeApiKey(db: Database, idOrPrefix: string): Promise<boolean> {
  const where = uuidPattern.test(idOrPrefix) ? { id: idOrPrefix } : { prefix: idOrPrefix };
  const { count } = await db.prisma.apiKey.updateMany({ where: { ...where, revokedAt: null }, data: { revokedAt: new Date() } });
  return count > 0;
}

export async function countActiveApiKeys(db: Database): Promise<number> {
  return db.prisma.apiKey.count({ where: { revokedAt: null } });
}

/**
 * Resolves keys to principals. Known keys and unknown (or revoked) ones are cached for `ttlSeconds`
 * (0 = no cache) in two separate LRUs of `maxEntries` each, so a flood of made-up keys can only
 * evict other made-up keys, never a valid key's entry.
 */
export class ApiKeyStore {
  private readonly known: LRUCache<string, Principal> | null;
  private readonly unknown: LRUCache<string, true> | null;

  constructor(
    private readonly db: Database,
    ttlSeconds: number,
    maxEntries = 10_000,
  ) {
    this.known = ttlSeconds > 0 ? new LRUCache({ max: maxEntries, ttl: ttlSeconds * 1000 }) : null;
    this.unknown = ttlSeconds > 0 ? new LRUCache({ max: maxEntries, ttl: ttlSeconds * 1000 }) : null;
  }

  /**
   * What is known without the database: the principal of a cached key, null for a malformed key or
   * a cached miss, undefined when only a lookup can tell.
   */
  cached(key: string): Principal | null | undefined {
    if (!keyPattern.test(key)) return null;
    const hash = hashKey(key);
    const principal = this.known?.get(hash);
    if (principal) return principal;
    if (this.unknown?.get(hash)) return null;
    return undefined;
  }

  /** Looks the key up in the database (and caches the answer). Throws when the database fails. */
  async lookup(key: string): Promise<Principal | null> {
    if (!keyPattern.test(key)) return null; // never touches the database
    const hash = hashKey(key);
    const row = await this.db.prisma.apiKey.findUnique({ where: { keyHash: hash }, include: { customer: { select: { externalId: true } } } });
    if (row && !row.revokedAt && isRole(row.role) && (row.role !== 'frontend' || row.customer)) {
      const principal: Principal = Object.freeze({
        role: row.role,
        kind: 'apikey' as const,
        keyId: row.id,
        ...(row.customerId && row.customer ? { customerId: row.customerId, customerExternalId: row.customer.externalId } : {}),
      });
      this.unknown?.delete(hash);
      this.known?.set(hash, principal);
      return principal;
    }
    this.unknown?.set(hash, true);
    return null;
  }

  /** The principal of a well-formed, known, unrevoked key; null otherwise. Throws when the database fails. */
  async resolve(key: string): Promise<Principal | null> {
    const cached = this.cached(key);
    return cached === undefined ? this.lookup(key) : cached;
  }
}
