import { describe, expect, it } from 'vitest';
import type { Driver } from './support/databases.js';
import { harnessPerTest, type StreamHarness } from './support/stream-harness.js';
import { waitForUnion } from './support/union.js';

const TIMEOUT = 180_000;
/** Transactions per source, at a pace that keeps the three loads and producers interleaved for several seconds. */
const LOAD = 400;
const RATE = 60;

/**
 * Three sources, two on SQLite and one on PostgreSQL, each with its own credential and producer process, write at
 * the same time (the demo load, random UUID keys) into one consumer: the consumer ends up with exactly the
 * disjoint union of their rows, each owned by its source, and every cursor at its source's head.
 */
function manySources(target: Driver): void {
  describe(`three sources (sqlite, sqlite, postgresql) → ${target}`, () => {
    const createHarness = harnessPerTest();

    it(
      'converges to the union of the sources',
      async () => {
        const h = await createHarness(['sqlite', 'sqlite', 'postgresql'], target);
        const { port } = await h.startConsumer();
        await Promise.all(
          h.sites.map(async (site) => {
            await site.createSchema();
            await site.startProducer(port);
          }),
        );
        const loads = h.sites.map((site) => site.load(LOAD, RATE));
        // While the loads run, every source is applied: the consumer interleaves them rather than one after another.
        await waitForAll(h, port);
        const results = await Promise.all(h.sites.map((site, i) => site.loadResult(loads[i]!)));
        expect(results.map((r) => r.transactions)).toEqual([LOAD, LOAD, LOAD]);

        const state = await waitForUnion(h);
        for (const site of h.sites) expect(state.heads[site.id]).toBeGreaterThan(LOAD);
        const sources = (await (await fetch(`http://127.0.0.1:${port}/api/sources`)).json()) as {
          sources: { id: string; connected: boolean; lastError?: unknown }[];
        };
        expect(
          sources.sources.map(({ id, connected, lastError }) => ({ id, connected, lastError })).sort(byId),
        ).toEqual(h.sites.map(({ id }) => ({ id, connected: true, lastError: undefined })));
      },
      TIMEOUT,
    );
  });
}

/** Waits until the consumer has applied something of every source while their loads still run. */
async function waitForAll(h: StreamHarness, port: number): Promise<void> {
  await h.waitFor(async () => {
    const applied = await Promise.all(h.sites.map((site) => h.sourceStatus(port, site.id)));
    return applied.every((s) => s.appliedEntries > 0);
  }, 60_000);
  for (const site of h.sites) {
    expect((await h.sourceStatus(port, site.id)).appliedEntries, site.id).toBeGreaterThan(0);
  }
}

const byId = (a: { id: string }, b: { id: string }) => a.id.localeCompare(b.id);

manySources('sqlite');
manySources('postgresql');
