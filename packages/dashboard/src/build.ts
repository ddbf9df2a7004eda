import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

export interface DashboardAsset {
  contentType: string;
  body: Buffer;
}

/** URL path (`/`, `/app.js`, …) → what to answer. */
export type DashboardAssets = ReadonlyMap<string, DashboardAsset>;

// src/app in the repository and in the published package alike (package.json ships it), next to src/ or dist/.
const APP = fileURLToPath(new URL('../src/app/', import.meta.url));

/**
 * Bundles the page (TypeScript, uPlot and the CSS) in memory with esbuild: about 100 ms, done once when the
 * consumer starts, so the page served always matches the code and there is no build step to forget.
 */
export async function buildDashboard(): Promise<DashboardAssets> {
  const result = await build({
    entryPoints: { app: `${APP}main.ts` },
    bundle: true,
    format: 'esm',
    target: 'es2022',
    minify: true,
    sourcemap: false,
    write: false,
    outdir: '/',
    loader: { '.css': 'css' },
    logLevel: 'silent',
  });
  const assets = new Map<string, DashboardAsset>();
  for (const file of result.outputFiles) {
    const type = file.path.endsWith('.css') ? 'text/css; charset=utf-8' : 'text/javascript; charset=utf-8';
    assets.set(file.path, { contentType: type, body: Buffer.from(file.contents) });
  }
  const html = await readFile(`${APP}index.html`);
  assets.set('/', { contentType: 'text/html; charset=utf-8', body: html });
  return assets;
}
