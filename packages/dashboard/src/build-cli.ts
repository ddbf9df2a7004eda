import { copyFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

// The page's sources (TypeScript, uPlot and the CSS) and the files served as they are.
const APP = fileURLToPath(new URL('./app/', import.meta.url));
const AS_IS = ['index.html', 'favicon.svg'];

// `npm run build` bundles the page into dist/public, which the consumer serves (see dashboard-bundle.ts): esbuild
// is needed to build the package, never to run it.
const out = process.argv[2] ?? 'dist/public';
await mkdir(out, { recursive: true });
await build({
  entryPoints: { app: `${APP}main.ts` },
  bundle: true,
  format: 'esm',
  target: 'es2022',
  minify: true,
  outdir: out,
  loader: { '.css': 'css' },
  logLevel: 'warning',
});
for (const file of AS_IS) await copyFile(join(APP, file), join(out, file));
console.log(`dashboard written to ${out}`);
