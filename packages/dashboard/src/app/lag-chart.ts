import uPlot from 'uplot';
import type { HistoryPoint } from '../source-lag.js';
import { count, duration, short } from './format.js';

const HOUR_MS = 3_600_000;

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
          {},
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
          { stroke: axisColor, grid },
          { scale: 'changes', stroke: axisColor, grid, size: 56, values: (_u, ticks) => ticks.map(short) },
          {
            scale: 'ms',
            side: 1,
            stroke: axisColor,
            grid: { show: false },
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
