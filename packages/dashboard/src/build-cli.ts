import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildDashboard } from './build.js';

// Writes the bundle to a directory, for serving it from elsewhere (a CDN, a reverse proxy) or to look at it.
const out = process.argv[2] ?? 'dist/public';
await mkdir(out, { recursive: true });
for (const [path, asset] of await buildDashboard()) {
  await writeFile(join(out, path === '/' ? 'index.html' : path), asset.body);
}
console.log(`dashboard written to ${out}`);
