/**
 * Draws docs/performance.svg from a `npm run -s bench -- --json` result: one panel of throughput per phase (changes/s,
 * each side's bar labelled with its ratio to the peer) and one of latency (p50 and p99 per side). Plain SVG, no
 * dependencies, so it renders on GitHub and in any browser.
 *
 *   node --import tsx bench/chart.ts docs/performance.json docs/performance.svg
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { phaseLabel } from './lib/report.js';
import { type BenchResult, SIDES, type SideId } from './lib/result.js';

const [input, output] = process.argv.slice(2);
if (!input || !output) throw new Error('usage: chart.ts RESULT.json OUT.svg');
const result = JSON.parse(readFileSync(input, 'utf8')) as BenchResult;

const COLORS: Record<SideId, string> = { peer: '#8c8c8c', pg: '#2f6db5', sqlite: '#e08a1e' };
const WIDTH = 860;
const ROW = 22;
const LEFT = 300;
const BAR_MAX = WIDTH - LEFT - 140;
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
const text = (x: number, y: number, s: string, extra = 'font-size="12"') =>
  `<text x="${x.toFixed(1)}" y="${y}" font-family="sans-serif" ${extra}>${esc(s)}</text>`;

interface Bar {
  side: SideId;
  value: number;
  label: string;
}

/** A panel of horizontal bar groups, one group per row label, scaled to the largest value of the panel. */
function panel(title: string, groups: { label: string; bars: Bar[] }[], top: number): { svg: string; height: number } {
  const max = Math.max(...groups.flatMap((g) => g.bars.map((b) => b.value)), 1);
  const parts = [text(10, top + 16, title, 'font-size="14" font-weight="bold"')];
  let y = top + 30;
  for (const group of groups) {
    parts.push(text(10, y + (group.bars.length * ROW) / 2 + 4, group.label));
    for (const bar of group.bars) {
      const width = Math.max(1, (bar.value / max) * BAR_MAX);
      parts.push(
        `<rect x="${LEFT}" y="${y + 3}" width="${width.toFixed(1)}" height="${ROW - 6}" fill="${COLORS[bar.side]}"/>`,
      );
      parts.push(text(LEFT + width + 6, y + ROW / 2 + 4, bar.label));
      y += ROW;
    }
    y += 10;
  }
  return { svg: parts.join('\n'), height: y - top };
}

const sidesIn = SIDES.filter((s) => result.phases.some((p) => p.sides[s.id]));
const ratio = (ours: number | undefined, peer: number | undefined) =>
  ours !== undefined && peer ? ` (${(ours / peer).toFixed(2)}× the peer)` : '';

const throughput = result.phases
  .filter((p) => p.kind === 'throughput')
  .map((p) => ({
    label: phaseLabel(p.id, result.settings),
    bars: sidesIn
      .filter((s) => p.sides[s.id]?.changesPerSecond !== undefined)
      .map((s) => {
        const value = p.sides[s.id]!.changesPerSecond!;
        const vsPeer = s.id === 'peer' ? '' : ratio(value, p.sides.peer?.changesPerSecond);
        return { side: s.id, value, label: `${value.toLocaleString('en')}/s${vsPeer}` };
      }),
  }));
const latencyPhase = result.phases.find((p) => p.kind === 'latency');
const latency = (['p50Ms', 'p99Ms'] as const).map((key) => ({
  label: `latency ${key.slice(0, 3)}`,
  bars: sidesIn
    .filter((s) => latencyPhase?.sides[s.id]?.[key] !== undefined)
    .map((s) => {
      const value = latencyPhase!.sides[s.id]![key]!;
      const vsPeer = s.id === 'peer' ? '' : ratio(value, latencyPhase!.sides.peer?.[key]);
      return { side: s.id, value, label: `${value} ms${vsPeer}` };
    }),
}));

const legend = sidesIn
  .map(
    (s, i) =>
      `<rect x="${10 + i * 280}" y="8" width="12" height="12" fill="${COLORS[s.id]}"/>${text(28 + i * 280, 18, s.label)}`,
  )
  .join('\n');
const first = panel('Throughput, changes/s (longer is better)', throughput, 30);
const second = panel('Latency, source commit → target commit (shorter is better)', latency, 30 + first.height + 10);
const height = 30 + first.height + 10 + second.height + 30;
const footer = text(
  10,
  height - 10,
  `medians of ${result.settings.rounds} rounds; ${result.machine.cpus} × ${result.machine.cpuModel}, Node ${result.machine.node}, PostgreSQL ${result.machine.postgres}`,
  'font-size="12" fill="#555"',
);
writeFileSync(
  output,
  `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" role="img">\n<title>oplog-stream and PostgreSQL 15 logical replication: throughput and latency</title>\n<rect width="100%" height="100%" fill="white"/>\n${legend}\n${first.svg}\n${second.svg}\n${footer}\n</svg>\n`,
);
