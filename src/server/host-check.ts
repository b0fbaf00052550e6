// DNS-rebinding guard (README "Security"): a web page can point its own host name at 127.0.0.1 and
// then call this server from the visitor's browser, with the page's name in the Host header. With
// AUTH_MODE=off such a caller would be an admin, so only loopback names (localhost, *.localhost,
// 127.x.x.x, [::1]) are accepted there unless ALLOWED_HOSTS lists others. With AUTH_MODE=required
// a rebound page gains nothing (API keys are not cookies; the browser never attaches one), so the
// Host is checked only when ALLOWED_HOSTS is set. Refused: HTTP 403 HOST_NOT_ALLOWED.
import type { NextFunction, Request, Response } from 'express';
import { ErrorCode } from '../graphql/errors.js';

/** True when `hostname` (no port; IPv6 in brackets) matches an entry: exact, `.suffix` (the name and its subdomains) or `*`. */
export function hostAllowed(hostname: string, allowed: readonly string[]): boolean {
  const name = hostname.toLowerCase().replace(/\.$/, '');
  if (name === '') return false;
  for (const entry of allowed) {
    if (entry === '*') return true;
    const e = entry.replace(/\.$/, '');
    if (e.startsWith('.')) {
      if (name === e.slice(1) || name.endsWith(e)) return true;
    } else if (name === e) return true;
    // The whole 127.0.0.0/8 block is loopback, not just 127.0.0.1.
    if (e === '127.0.0.1' && /^127(\.\d{1,3}){3}$/.test(name)) return true;
  }
  return false;
}

/** Express middleware refusing requests whose Host (X-Forwarded-Host behind a trusted proxy) is not allowed; `null` = no check. */
export function hostCheck(allowed: readonly string[] | null) {
  return (req: Request, res: Response, next: NextFunction) => {
    if (allowed === null) return next();
    const hostname = req.hostname;
    if (hostname !== undefined && hostAllowed(hostname, allowed)) return next();
    res.status(403).json({
      errors: [{ message: 'This host name is not allowed; use a loopback address or add it to ALLOWED_HOSTS.', extensions: { code: ErrorCode.HOST_NOT_ALLOWED } }],
    });
  };
}
