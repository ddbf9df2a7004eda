import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { COOKIE, checkAccess, checkDashboardAccess, isLoopback } from './dashboard-access.js';

const TOKEN = 'a-dashboard-token-0123';
const request = (headers: Record<string, string> = {}) => ({ headers }) as IncomingMessage;

describe('checkDashboardAccess', () => {
  it('needs a token, or public on purpose, beyond loopback', () => {
    expect(() => checkDashboardAccess('127.0.0.1')).not.toThrow();
    expect(() => checkDashboardAccess('::1')).not.toThrow();
    expect(() => checkDashboardAccess('localhost')).not.toThrow();
    expect(() => checkDashboardAccess('0.0.0.0')).toThrow(/dashboard.token/);
    expect(() => checkDashboardAccess('0.0.0.0', { token: TOKEN })).not.toThrow();
    expect(() => checkDashboardAccess('0.0.0.0', { public: true })).not.toThrow();
    expect(() => checkDashboardAccess('127.0.0.1', { token: 'short' })).toThrow(/16/);
    expect(isLoopback('10.0.0.1')).toBe(false);
  });
});

describe('checkAccess', () => {
  const url = (query = '') => new URL(`http://x/api/lag${query}`);

  it('lets everything through without a token configured', () => {
    expect(checkAccess(request(), url(), undefined)).toEqual({ ok: true });
  });

  it('accepts a Bearer header or the cookie, and refuses anything else', () => {
    expect(checkAccess(request({ authorization: `Bearer ${TOKEN}` }), url(), TOKEN)).toEqual({ ok: true });
    expect(checkAccess(request({ cookie: `a=b; ${COOKIE}=${TOKEN}` }), url(), TOKEN)).toEqual({ ok: true });
    expect(checkAccess(request({ authorization: 'Bearer nope' }), url(), TOKEN)).toEqual({ ok: false, status: 401 });
    expect(checkAccess(request(), url('?token=nope'), TOKEN)).toEqual({ ok: false, status: 401 });
  });

  it('trades ?token= for a cookie and a redirect that drops it from the address', () => {
    const access = checkAccess(request(), url(`?x=1&token=${TOKEN}`), TOKEN);
    expect(access).toMatchObject({ ok: true, redirect: '/api/lag?x=1' });
    expect('setCookie' in access && access.setCookie).toMatch(/^oplog_dashboard=.*HttpOnly; SameSite=Strict/);
  });
});
