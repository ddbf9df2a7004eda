import { readdir, readFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface DashboardAsset {
  contentType: string;
  body: Buffer;
}

/** URL path (`/`, `/app.js`, …) → what to answer. */
export type DashboardAssets = ReadonlyMap<string, DashboardAsset>;

/** Where `npm run build` bundles the page (src/build-cli.ts): the package's dist/public, seen from src/ or dist/. */
export const DASHBOARD_BUNDLE = fileURLToPath(new URL('../dist/public/', import.meta.url));

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/**
 * Reads the page as the build bundled it, once when the consumer starts. Running from source (tests, `npm start`)
 * reads the same files, so a checkout must have been built once; without them this rejects, naming the command.
 */
export async function loadDashboard(dir = DASHBOARD_BUNDLE): Promise<DashboardAssets> {
  const names = await readdir(dir).catch((): string[] => []);
  if (!names.includes('index.html')) {
    throw new Error(
      `the dashboard page is not built (no ${join(dir, 'index.html')}): run npm run build, or npm run build -w @oplog/dashboard`,
    );
  }
  const assets = new Map<string, DashboardAsset>();
  for (const name of names) {
    const contentType = CONTENT_TYPES[extname(name)];
    if (!contentType) continue;
    assets.set(name === 'index.html' ? '/' : `/${name}`, { contentType, body: await readFile(join(dir, name)) });
  }
  return assets;
}
