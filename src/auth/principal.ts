// Who is asking: resolved once per HTTP request (src/auth/authenticate.ts) and carried in
// the GraphQL context. Field-level authorization (field-policy.ts) reads only this.

export const roles = ['admin', 'bi', 'frontend'] as const;
export type Role = (typeof roles)[number];

export const isRole = (value: unknown): value is Role => typeof value === 'string' && (roles as readonly string[]).includes(value);

export interface Principal {
  role: Role;
  /** `apikey`: a stored API key; `jwt`: a shopper token from the shop's identity provider; `anonymous`: no credential while AUTH_MODE=off (development). */
  kind: 'apikey' | 'jwt' | 'anonymous';
  /** The API key's id (rate limiting, logs); absent for anonymous. */
  keyId?: string;
  /** For `frontend`: the one customer this credential may read. */
  customerId?: string;
  customerExternalId?: string;
}

/** What requests without credentials are while AUTH_MODE=off: admins. Never in production. */
export const developmentPrincipal: Principal = Object.freeze({ role: 'admin', kind: 'anonymous' });
