import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '@oplog/runtime';
import { checkAccess } from './dashboard-access.js';
import type { DashboardAssets } from './dashboard-bundle.js';
import type { ConsumerMetrics } from './metrics.js';
import type { HistoryPoint, SourceLag } from './source-lag.js';

/** What the HTTP side reads from the consumer. */
export interface HttpApiHost {
  /** Listening and accepting sessions. */
  accepting(): boolean;
  /** Sources whose apply transaction has been running for too long (the apply loop is stuck). */
  stalled(): string[];
  /** Resolves whether the database answers. */
  databaseReachable(): Promise<boolean>;
  sources(): unknown[];
  lags(): readonly SourceLag[];
  history(since: number, source: string | undefined): Promise<HistoryPoint[]>;
  subscribe(res: ServerResponse): void;
  readonly metrics: ConsumerMetrics;
  assets(): Promise<DashboardAssets>;
  readonly token: string | undefined;
  readonly logger: Logger;
  /** A local app's report of its outbox head (POST /api/head, with the source's credential); the HTTP status. */
  reportHead(req: IncomingMessage): Promise<number>;
}

const MINUTE_MS = 60_000;

/**
 * The consumer's HTTP routes. /healthz and /readyz are open (orchestrators probe them); everything else (the
 * dashboard, its API, /metrics) needs the dashboard token when one is configured.
 */
export function createHttpHandler(host: HttpApiHost): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    route(host, req, res).catch((error: unknown) => {
      host.logger.warn({ err: String(error), url: req.url }, 'http request failed');
      if (!res.headersSent) json(res, 500, { error: 'internal error' });
      else res.destroy();
    });
  };
}

async function route(host: HttpApiHost, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://x');
  const path = url.pathname;
  if (path === '/api/head') {
    if (req.method !== 'POST') return void res.writeHead(405, { allow: 'POST' }).end();
    return void res.writeHead(await host.reportHead(req)).end();
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') return void res.writeHead(405, { allow: 'GET, HEAD' }).end();
  if (path === '/healthz') {
    const stalled = host.stalled();
    return json(res, stalled.length === 0 ? 200 : 503, { ok: stalled.length === 0, stalled });
  }
  if (path === '/readyz') {
    const listening = host.accepting();
    const database = listening && (await host.databaseReachable());
    return json(res, listening && database ? 200 : 503, { ok: listening && database, listening, database });
  }
  const access = checkAccess(req, url, host.token);
  if (!access.ok) {
    res.writeHead(401, { 'content-type': 'text/plain; charset=utf-8', 'www-authenticate': 'Bearer' });
    return void res.end('The dashboard needs its token: open it once as /?token=… or send Authorization: Bearer …\n');
  }
  if ('redirect' in access) {
    return void res.writeHead(303, { location: access.redirect, 'set-cookie': access.setCookie }).end();
  }
  switch (path) {
    case '/metrics': {
      const text = await host.metrics.text();
      res.writeHead(200, { 'content-type': host.metrics.contentType });
      return void res.end(text);
    }
    case '/api/sources':
      return json(res, 200, { now: Date.now(), sources: host.sources() });
    case '/api/lag':
      return json(res, 200, { now: Date.now(), sources: host.lags() });
    case '/api/history': {
      const minutes = Math.min(24 * 60, Math.max(1, Number(url.searchParams.get('minutes') ?? 60) || 60));
      const now = Date.now();
      const source = url.searchParams.get('source') ?? undefined;
      const since = now - minutes * MINUTE_MS;
      return json(res, 200, { now, source: source ?? null, since, points: await host.history(since, source) });
    }
    case '/api/events':
      return host.subscribe(res);
  }
  let assets: DashboardAssets;
  try {
    assets = await host.assets();
  } catch (error) {
    // The page is missing (not built): say so, and how to build it, to whoever opened it.
    res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8' });
    return void res.end(`${error instanceof Error ? error.message : String(error)}\n`);
  }
  const asset = assets.get(path === '/index.html' ? '/' : path);
  if (!asset) return void res.writeHead(404).end();
  res.writeHead(200, {
    'content-type': asset.contentType,
    'content-length': asset.body.length,
    'cache-control': 'no-cache',
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    ...(path === '/' ? { 'content-security-policy': "default-src 'self'; style-src 'self' 'unsafe-inline'" } : {}),
  });
  res.end(req.method === 'HEAD' ? undefined : asset.body);
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}
