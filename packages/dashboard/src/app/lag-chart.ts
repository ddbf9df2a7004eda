import uPlot from 'uplot';
import type { HistoryPoint } from '../source-lag.js';
import { clock, count, dateTime, duration, short } from './format.js';

const HOUR_MS = 3_600_000;
const MINUTE = 60;
const HOUR = 3600;
const DAY = 24 * HOUR;
/** Steps between time ticks, in seconds: whole seconds at least, as the labels show no finer. */
const TIME_STEPS = [1, MINUTE]
  .flatMap((unit) => [1, 2, 5, 10, 15, 30].map((n) => n * unit))
  .concat([1, 2, 3, 6, 12].map((n) => n * HOUR));
/** Steps between lag-in-time ticks, in ms: round seconds, minutes and hours, never 0.2 s or 33 min 20 s. */
const DURATION_STEPS = [...TIME_STEPS, DAY, 2 * DAY, 7 * DAY].map((seconds) => seconds * 1000);
/** Steps between lag-in-changes ticks: whole changes (1, 2, 5, 10, …). */
const COUNT_STEPS = Array.from({ length: 10 }, (_, e) => [1, 2, 5].map((n) => n * 10 ** e)).flat();

const AXIS_FONT = '12px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';
const measurer = document.createElement('canvas').getContext('2d')!;
measurer.font = AXIS_FONT;
const widest = (texts: readonly string[]): number => Math.max(0, ...texts.map((t) => measurer.measureText(t).width));
/** A time label as wide as they come (two-digit hour, 8s are wide in most fonts). */
const TIME_LABEL_WIDTH = widest([clock(new Date(2000, 0, 1, 18, 58, 58).getTime())]);

/**
 * A side axis as wide as its longest label, so no label is cut at the canvas edge; and at least half a time label
 * wide, as the time axis centres its first and last label on ticks that can sit at the plot's edges.
 */
function sideAxisSize(u: uPlot, values: string[] | null, axisIndex: number): number {
  const axis = u.axes[axisIndex]!;
  const labels = Math.max(widest(values ?? []), TIME_LABEL_WIDTH / 2);
  return Math.ceil((axis.ticks?.size ?? 0) + (axis.gap ?? 0) + labels + 2);
}

/**
 * Lag over the last hour with uPlot: changes on the left axis, time on the right. Starts from the stored history
 * (one sample per source every few seconds) and appends a point per live update.
 */
export class LagChart {
  #points: HistoryPoint[] = [];
  readonly #plot: uPlot;

  constructor(container: HTMLElement) {
    const css = getComputedStyle(document.documentElement);
    const changesColor = css.getPropertyValue('--changes').trim() || '#2563eb';
    const timeColor = css.getPropertyValue('--time').trim() || '#d97706';
    const axisColor = css.getPropertyValue('--muted').trim() || '#666';
    const grid = { stroke: css.getPropertyValue('--grid').trim() || '#8884', width: 1 };
    this.#plot = new uPlot(
      {
        width: container.clientWidth || 600,
        height: 220,
        cursor: { drag: { x: false, y: false } },
        scales: {
          x: { time: true },
          changes: { range: (_u, _min, max) => [0, Math.max(1, max)] },
          ms: { range: (_u, _min, max) => [0, Math.max(1000, max)] },
        },
        series: [
          { value: (_u, at) => (at == null ? '–' : dateTime(at * 1000)) },
          {
            label: 'lag (changes)',
            scale: 'changes',
            stroke: changesColor,
            width: 2,
            fill: `${changesColor}22`,
            value: (_u, v) => (v == null ? '–' : count(v)),
          },
          {
            label: 'lag (time)',
            scale: 'ms',
            stroke: timeColor,
            width: 2,
            value: (_u, v) => (v == null ? '–' : duration(v)),
          },
        ],
        axes: [
          {
            stroke: axisColor,
            grid,
            font: AXIS_FONT,
            // One line per tick (no date line under it) and ticks a label and a gap apart: labels never overlap.
            size: 32,
            space: TIME_LABEL_WIDTH + 24,
            incrs: TIME_STEPS,
            values: (_u, ticks) => ticks.map((t) => clock(t * 1000)),
          },
          {
            scale: 'changes',
            stroke: axisColor,
            grid,
            font: AXIS_FONT,
            size: sideAxisSize,
            incrs: COUNT_STEPS,
            values: (_u, ticks) => ticks.map(short),
          },
          {
            scale: 'ms',
            side: 1,
            stroke: axisColor,
            grid: { show: false },
            font: AXIS_FONT,
            size: sideAxisSize,
            incrs: DURATION_STEPS,
            values: (_u, ticks) => ticks.map((t) => duration(t)),
          },
        ],
      },
      [[], [], []],
      container,
    );
    new ResizeObserver(() => this.#plot.setSize({ width: container.clientWidth, height: 220 })).observe(container);
  }

  /** Replaces the points (from /api/history). */
  reset(points: HistoryPoint[]): void {
    this.#points = points;
    this.#draw();
  }

  append(point: HistoryPoint): void {
    const last = this.#points.at(-1);
    if (last && point[0] <= last[0]) return;
    this.#points.push(point);
    const since = point[0] - HOUR_MS;
    while (this.#points.length > 0 && this.#points[0]![0] < since) this.#points.shift();
    this.#draw();
  }

  #draw(): void {
    const points = this.#points;
    this.#plot.setData([points.map((p) => p[0] / 1000), points.map((p) => p[1]), points.map((p) => p[2])]);
  }
}
