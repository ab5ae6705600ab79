/**
 * Who may see the dashboard (docs/pitfalls.md#6-bull-board: bull-board has no auth and
 * dashboard access equals Redis access). Rules:
 *  - without credentials the dashboard only binds to loopback; anything
 *    else refuses to start;
 *  - with credentials every page needs basic auth, except /health and
 *    /metrics asked from loopback (local probes and a local Prometheus
 *    agent need no password; the same pages from the network do).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';

export class DashboardAccessError extends Error {
  readonly code = 'DASHBOARD_UNPROTECTED';
}

export function isLoopback(address: string): boolean {
  const a = address.replace(/^\[|\]$/g, '').toLowerCase();
  if (a === 'localhost' || a === '::1') return true;
  const v4 = a.startsWith('::ffff:') ? a.slice(7) : a;
  return isIP(v4) === 4 && v4.startsWith('127.');
}

export interface Credentials {
  user: string;
  password: string;
}

/** The credentials to enforce, or none (loopback only); throws when the bind would expose an open dashboard. */
export function accessPolicy(host: string, user: string | undefined, password: string | undefined): Credentials | null {
  if (user && password) return { user, password };
  if (user || password) throw new DashboardAccessError('COINEREX_DASHBOARD_USER and COINEREX_DASHBOARD_PASSWORD must be set together');
  if (!isLoopback(host)) {
    throw new DashboardAccessError(
      `refusing to serve the dashboard on ${host} without credentials: set COINEREX_DASHBOARD_USER and COINEREX_DASHBOARD_PASSWORD, or bind to 127.0.0.1`,
    );
  }
  return null;
}

/** Paths a loopback client may read without credentials. */
export const openOnLoopback: ReadonlySet<string> = new Set(['/health', '/metrics']);

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/** Constant-time comparison of both fields. */
export function credentialsMatch(expected: Credentials, user: string, password: string): boolean {
  const userOk = timingSafeEqual(digest(expected.user), digest(user));
  const passwordOk = timingSafeEqual(digest(expected.password), digest(password));
  return userOk && passwordOk;
}
