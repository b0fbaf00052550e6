// The signed-in API key and role. The key lives only in this tab's sessionStorage (shared with the
// IDE on the same origin) — never in a URL, a cookie or a log — and is gone when the tab closes.
const KEY = 'cia.apiKey';
const ROLE = 'cia.role';

export type Role = 'admin' | 'bi' | 'frontend';

export interface Session {
  /** Empty when the server runs with AUTH_MODE=off and no key was given. */
  apiKey: string;
  role: Role;
}

export function loadSession(): Session | null {
  const apiKey = sessionStorage.getItem(KEY);
  const role = sessionStorage.getItem(ROLE) as Role | null;
  return apiKey !== null && role ? { apiKey, role } : null;
}

export function saveSession(s: Session): void {
  sessionStorage.setItem(KEY, s.apiKey);
  sessionStorage.setItem(ROLE, s.role);
}

export function clearSession(): void {
  sessionStorage.removeItem(KEY);
  sessionStorage.removeItem(ROLE);
}

export const storedApiKey = (): string => sessionStorage.getItem(KEY) ?? '';
export const storeApiKey = (key: string): void => (key ? sessionStorage.setItem(KEY, key) : sessionStorage.removeItem(KEY));
