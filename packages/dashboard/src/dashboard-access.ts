import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export interface DashboardOptions {
  /** Read access to the dashboard, its API and /metrics. Required when listening beyond loopback. */
  token?: string;
  /** Serve them without a token even beyond loopback (behind your own proxy or on a trusted network). */
  public?: boolean;
}

export const COOKIE = 'oplog_dashboard';

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

export function isLoopback(host: string): boolean {
  return LOOPBACK.has(host.toLowerCase()) || host.startsWith('127.');
}

/**
 * Throws when the consumer would expose the dashboard (source names, lag, errors) beyond loopback without a token
 * and without saying so on purpose.
 */
export function checkDashboardAccess(host: string, options: DashboardOptions = {}): void {
  if (options.token !== undefined && options.token.length < 16) {
    throw new TypeError('dashboard.token must be at least 16 characters');
  }
  if (!isLoopback(host) && options.token === undefined && !options.public) {
    throw new TypeError(
      `listening on ${host} (beyond loopback) needs dashboard.token, or dashboard.public: true to serve the dashboard and /metrics openly`,
    );
  }
}

export type Access = { ok: true } | { ok: false; status: 401 } | { ok: true; setCookie: string; redirect: string };

/**
 * Whether a request may read: no token configured, or the token as a Bearer header, a cookie, or once as `?token=`
 * (then answered with the cookie and a redirect to the same URL without it, so it leaves the address bar).
 */
export function checkAccess(req: IncomingMessage, url: URL, token: string | undefined): Access {
  if (token === undefined) return { ok: true };
  const bearer = /^Bearer (.+)$/i.exec(req.headers.authorization ?? '')?.[1];
  if (bearer !== undefined && same(token, bearer)) return { ok: true };
  const cookie = cookieValue(req.headers.cookie, COOKIE);
  if (cookie !== undefined && same(token, cookie)) return { ok: true };
  const query = url.searchParams.get('token');
  if (query !== null && same(token, query)) {
    const clean = new URL(url);
    clean.searchParams.delete('token');
    return {
      ok: true,
      setCookie: `${COOKIE}=${encodeURIComponent(token)}; Path=/; HttpOnly; SameSite=Strict`,
      redirect: `${clean.pathname}${clean.search}`,
    };
  }
  return { ok: false, status: 401 };
}

export function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const [key, ...rest] = part.trim().split('=');
    if (key === name) {
      try {
        return decodeURIComponent(rest.join('='));
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

function same(expected: string, given: string): boolean {
  const a = Buffer.from(expected);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}
