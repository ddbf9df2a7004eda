import 'uplot/dist/uPlot.min.css';
import './style.css';
import type { HistoryPoint, LagMessage } from '../source-lag.js';
import { LagChart } from './lag-chart.js';
import { SourceTable } from './source-table.js';
import { summarize } from './summary.js';

const $ = <T extends HTMLElement>(selector: string) => document.querySelector<T>(selector)!;

const chart = new LagChart($('#chart'));
const chartTitle = $('#chart-title');
const showAll = $<HTMLButtonElement>('#chart-all');
const summary = $('#summary');
const stream = $('#stream');
const shown = $('#shown');
let selected: string | undefined;
let latest: LagMessage | undefined;

const table = new SourceTable(
  $<HTMLTableSectionElement>('#sources tbody'),
  document.querySelectorAll<HTMLTableCellElement>('#sources th[data-sort]'),
  (id) => void select(id === selected ? undefined : id),
  (visible, total) =>
    (shown.textContent = `${visible === total ? '' : `${visible} of `}${total} source${total === 1 ? '' : 's'}`),
);
$<HTMLInputElement>('#filter').addEventListener('input', (event) =>
  table.filter((event.target as HTMLInputElement).value),
);
showAll.addEventListener('click', () => void select(undefined));

/** The chart's point for one update: the selected source, or all of them (changes summed, the worst time). */
function pointOf(message: LagMessage): HistoryPoint | undefined {
  if (selected !== undefined) {
    const lag = message.sources.find((s) => s.id === selected);
    return lag && [message.now, lag.lagChanges, lag.lagMs];
  }
  let changes = 0;
  let ms = 0;
  for (const lag of message.sources) {
    changes += lag.lagChanges;
    ms = Math.max(ms, lag.lagMs);
  }
  return [message.now, changes, ms];
}

async function select(id: string | undefined): Promise<void> {
  selected = id;
  chartTitle.textContent = id === undefined ? 'Lag, last hour — all sources' : `Lag, last hour — ${id}`;
  showAll.hidden = id === undefined;
  for (const tr of document.querySelectorAll<HTMLTableRowElement>('#sources tr[aria-selected]')) {
    tr.removeAttribute('aria-selected');
  }
  if (id !== undefined)
    document.querySelector(`#sources tr[data-source="${CSS.escape(id)}"]`)?.setAttribute('aria-selected', 'true');
  const query = id === undefined ? '' : `?source=${encodeURIComponent(id)}`;
  const response = await fetch(`api/history${query}`);
  if (!response.ok || selected !== id) return;
  const { points } = (await response.json()) as { points: HistoryPoint[] };
  chart.reset(points);
  const current = latest && pointOf(latest);
  if (current) chart.append(current);
}

function render(message: LagMessage): void {
  latest = message;
  table.update(message.sources, message.now);
  const s = summarize(message.sources);
  summary.textContent = s.text;
  summary.dataset['live'] = String(s.live);
  summary.dataset['offline'] = String(s.offline);
  summary.dataset['halted'] = String(s.halted);
  summary.dataset['unknown'] = String(s.unknown);
  const point = pointOf(message);
  if (point) chart.append(point);
}

function connect(): void {
  // EventSource reconnects by itself (after the `retry` the server sets); the indicator says when it does.
  const events = new EventSource('api/events');
  events.onopen = () => {
    stream.dataset['state'] = 'open';
    stream.textContent = 'live updates';
  };
  events.onerror = () => {
    stream.dataset['state'] = 'reconnecting';
    stream.textContent = 'reconnecting…';
  };
  events.onmessage = (event) => render(JSON.parse(event.data) as LagMessage);
}

await select(undefined);
connect();
