/**
 * Prints the markdown tables of a saved `npm run -s bench -- --json` result (the same tables a run without --json
 * prints), for docs/performance.md.
 *
 *   node --import tsx bench/render.ts docs/performance.json
 */
import { readFileSync } from 'node:fs';
import { renderMarkdown } from './lib/report.js';
import type { BenchResult } from './lib/result.js';

const [input] = process.argv.slice(2);
if (!input) throw new Error('usage: render.ts RESULT.json');
console.log(renderMarkdown(JSON.parse(readFileSync(input, 'utf8')) as BenchResult));
