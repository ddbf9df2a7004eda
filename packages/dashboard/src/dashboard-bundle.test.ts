import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '@oplog/runtime';
import { afterEach, describe, expect, it } from 'vitest';
import { type DashboardAssets, loadDashboard } from './dashboard-bundle.js';
import { createHttpHandler, type HttpApiHost } from './http-api.js';
import { ConsumerMetrics } from './metrics.js';

const DIST_INDEX = new URL('../dist/index.js', import.meta.url).pathname;

let server: Server | undefined;
afterEach(() => server?.close());

/** The dashboard's routes on a real port, serving `assets` (the consumer's other answers are not asked here). */
async function serve(assets: () => Promise<DashboardAssets>): Promise<string> {
  const host = {
    assets,
    token: undefined,
    logger: createLogger({ level: 'silent' }),
    metrics: new ConsumerMetrics(() => []),
  } as Partial<HttpApiHost> as HttpApiHost;
  server = createServer(createHttpHandler(host));
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('the dashboard bundle', () => {
  it('is served as the build wrote it: the page, its script, its style and its icon', async () => {
    const base = await serve(() => loadDashboard());
    const page = await fetch(`${base}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await page.text();
    expect(html).toContain('<link rel="icon" href="favicon.svg"');
    for (const [path, type] of [
      ['/app.js', /^text\/javascript/],
      ['/app.css', /^text\/css/],
      ['/favicon.svg', /^image\/svg\+xml/],
    ] as const) {
      const response = await fetch(`${base}${path}`);
      expect(response.status, path).toBe(200);
      expect(response.headers.get('content-type'), path).toMatch(type);
      expect((await response.arrayBuffer()).byteLength, path).toBeGreaterThan(100);
    }
  });

  it('missing, answers 503 naming the command that builds it', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'oplog-no-bundle-'));
    try {
      await expect(loadDashboard(empty)).rejects.toThrow(/not built .*run npm run build/);
      const base = await serve(() => loadDashboard(empty));
      const response = await fetch(`${base}/`);
      expect(response.status).toBe(503);
      expect(await response.text()).toMatch(/npm run build -w @oplog\/dashboard/);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it('loads without esbuild: the compiled package never imports it', () => {
    // A resolve hook that refuses esbuild, then the compiled package as the consumer imports it, and its page.
    const refuseEsbuild = `data:text/javascript,export async function resolve(s, c, next) { if (s === 'esbuild') throw new Error('esbuild imported at run time'); return next(s, c); }`;
    const script = `import { register } from 'node:module';
register(${JSON.stringify(refuseEsbuild)});
const { loadDashboard } = await import(${JSON.stringify(DIST_INDEX)});
console.log([...(await loadDashboard()).keys()].sort().join(' '));`;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(out.trim()).toBe('/ /app.css /app.js /favicon.svg');
  });
});
