import type { SourceLag } from '../source-lag.js';
import { ago, atLeast, clock, count, duration, rate } from './format.js';

export type SortKey = 'id' | 'state' | 'lagChanges' | 'lagMs' | 'throughput' | 'lastSeenAt' | 'error';

const COLUMNS = ['id', 'state', 'lag-changes', 'lag-ms', 'throughput', 'last-seen', 'error'] as const;
type Column = (typeof COLUMNS)[number];
const LABELS: Record<Column, string> = {
  id: 'source',
  state: 'state',
  'lag-changes': 'lag (changes)',
  'lag-ms': 'lag (time)',
  throughput: 'throughput',
  'last-seen': 'last seen',
  error: 'last error',
};

/** Worst first when sorting by state. */
const STATE_RANK: Record<SourceLag['state'], number> = {
  halted: 0,
  offline: 1,
  fenced: 2,
  snapshotting: 3,
  'catching-up': 4,
  live: 5,
};

interface Row {
  tr: HTMLTableRowElement;
  cells: Record<Column, HTMLTableCellElement>;
  /** The text last written to each cell: a cell is touched only when its text changes. */
  texts: Partial<Record<Column, string>>;
  lag: SourceLag;
}

/**
 * The sources table. Rows are created once per source and updated in place, cell by cell, only where the text
 * changed, and reordered only when the order changed: with 1,000 sources an update costs a few milliseconds.
 */
export class SourceTable {
  readonly #rows = new Map<string, Row>();
  #order: Row[] = [];
  #sort: { key: SortKey; descending: boolean } = { key: 'lagMs', descending: true };
  #filter = '';
  #now = Date.now();

  constructor(
    private readonly tbody: HTMLTableSectionElement,
    private readonly headers: NodeListOf<HTMLTableCellElement>,
    onSelect: (id: string) => void,
    private readonly onShown: (shown: number, total: number) => void,
  ) {
    for (const th of headers) {
      th.tabIndex = 0;
      const sort = () => this.sortBy(th.dataset['sort'] as SortKey);
      th.addEventListener('click', sort);
      th.addEventListener('keydown', (event) => {
        if (event.key === 'Enter' || event.key === ' ') sort();
      });
    }
    tbody.addEventListener('click', (event) => {
      const tr = (event.target as Element).closest('tr');
      if (tr?.dataset['source']) onSelect(tr.dataset['source']);
    });
    this.#markSort();
  }

  sortBy(key: SortKey): void {
    this.#sort =
      this.#sort.key === key
        ? { key, descending: !this.#sort.descending }
        : { key, descending: key !== 'id' && key !== 'state' && key !== 'error' };
    this.#markSort();
    this.#arrange();
  }

  filter(text: string): void {
    this.#filter = text.trim().toLowerCase();
    this.#arrange();
  }

  update(sources: readonly SourceLag[], now: number): void {
    this.#now = now;
    const present = new Set<string>();
    for (const lag of sources) {
      present.add(lag.id);
      let row = this.#rows.get(lag.id);
      if (!row) {
        row = this.#createRow(lag);
        this.#rows.set(lag.id, row);
      }
      row.lag = lag;
      this.#fill(row);
    }
    for (const [id, row] of this.#rows) {
      if (!present.has(id)) {
        row.tr.remove();
        this.#rows.delete(id);
      }
    }
    this.#arrange();
  }

  #createRow(lag: SourceLag): Row {
    const tr = document.createElement('tr');
    tr.dataset['source'] = lag.id;
    const cells = {} as Record<Column, HTMLTableCellElement>;
    for (const column of COLUMNS) {
      const td = document.createElement('td');
      td.dataset['col'] = column;
      td.dataset['label'] = LABELS[column];
      if (column.startsWith('lag') || column === 'throughput') td.className = 'num';
      cells[column] = td;
      tr.append(td);
    }
    return { tr, cells, texts: {}, lag };
  }

  #fill(row: Row): void {
    const { lag, tr } = row;
    const now = this.#now;
    if (tr.dataset['state'] !== lag.state) tr.dataset['state'] = lag.state;
    const known = String(lag.lagKnown);
    if (tr.dataset['lagKnown'] !== known) tr.dataset['lagKnown'] = known;
    this.#set(row, 'id', lag.id);
    this.#set(row, 'state', stateText(lag, now));
    // Without a session or a fresh head report the source may have written since: the figures are floors.
    this.#set(row, 'lag-changes', atLeast(lag.lagKnown, lag.lagChanges, count(lag.lagChanges)));
    this.#set(row, 'lag-ms', atLeast(lag.lagKnown, lag.lagMs, duration(lag.lagMs)));
    const why = lag.lagKnown ? '' : `head unknown: last told ${ago(lag.headHeardAt, now)}; it may have moved since`;
    for (const cell of [row.cells['lag-changes'], row.cells['lag-ms']]) if (cell.title !== why) cell.title = why;
    this.#set(row, 'throughput', rate(lag.throughput));
    this.#set(row, 'last-seen', ago(lag.lastSeenAt, now));
    this.#set(row, 'error', lag.lastError ? `${lag.lastError.code} (${ago(lag.lastError.at, now)})` : '');
    row.cells['lag-changes'].dataset['value'] = String(lag.lagChanges);
    row.cells['lag-ms'].dataset['value'] = String(lag.lagMs);
    if (lag.lastError) row.cells.error.title = lag.lastError.message;
  }

  #set(row: Row, column: Column, text: string): void {
    if (row.texts[column] === text) return;
    row.texts[column] = text;
    row.cells[column].textContent = text;
  }

  #arrange(): void {
    const filter = this.#filter;
    const visible = [...this.#rows.values()].filter((row) => !filter || matches(row.lag, filter));
    const { key, descending } = this.#sort;
    const sign = descending ? -1 : 1;
    visible.sort((a, b) => sign * compare(a.lag, b.lag, key) || a.lag.id.localeCompare(b.lag.id));
    if (visible.length !== this.#order.length || visible.some((row, i) => row !== this.#order[i])) {
      this.tbody.replaceChildren(...visible.map((row) => row.tr));
      this.#order = visible;
    }
    this.onShown(visible.length, this.#rows.size);
  }

  #markSort(): void {
    for (const th of this.headers) {
      const sorted = th.dataset['sort'] === this.#sort.key;
      th.setAttribute('aria-sort', sorted ? (this.#sort.descending ? 'descending' : 'ascending') : 'none');
    }
  }
}

export function stateText(lag: SourceLag, now: number): string {
  switch (lag.state) {
    case 'offline':
      return `offline${since(lag, now)}`;
    case 'halted':
      return `halted: ${lag.lastError?.code ?? 'error'}${lag.offlineSince === null ? '' : `, offline${since(lag, now)}`}`;
    case 'catching-up':
      return 'catching up';
    case 'fenced':
      return 'fenced: a second producer of this source was refused';
    case 'snapshotting':
      return `snapshotting ${Math.floor(lag.snapshot?.percent ?? 0)}% (${lag.snapshot?.reason ?? 'resync'})`;
    default:
      return lag.state;
  }
}

const since = (lag: SourceLag, now: number): string =>
  lag.offlineSince === null ? '' : ` since ${clock(lag.offlineSince)} (${duration(now - lag.offlineSince)})`;

function matches(lag: SourceLag, filter: string): boolean {
  return (
    lag.id.toLowerCase().includes(filter) ||
    lag.state.includes(filter) ||
    (lag.lastError?.code.toLowerCase().includes(filter) ?? false)
  );
}

function compare(a: SourceLag, b: SourceLag, key: SortKey): number {
  switch (key) {
    case 'id':
      return a.id.localeCompare(b.id);
    case 'state':
      return STATE_RANK[a.state] - STATE_RANK[b.state];
    case 'error':
      return (a.lastError?.code ?? '').localeCompare(b.lastError?.code ?? '');
    case 'lastSeenAt':
      return (a.lastSeenAt ?? 0) - (b.lastSeenAt ?? 0);
    default:
      return a[key] - b[key];
  }
}
