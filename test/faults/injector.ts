import type { MikroORM } from '@mikro-orm/core';
import { type Fleet, type SourceNode, sleepUntil } from './fleet.js';
import { lockPgCenter } from './pg-busy.js';
import { RESTORE_EPISODES, type RestoreContext } from './restores.js';
import { resourceOf, type ScheduledFault } from './schedule.js';
import { fillDisk, freeDisk } from './tmpfs.js';

/** One fault as it happened. */
export interface FaultRecord {
  fault: ScheduledFault;
  start: number;
  end: number;
  /** It hit something: a running process, an open connection, a link that was up. */
  effective: boolean;
  /** Sources whose link to the consumer was up when a stall began (stalls only). */
  linkUp?: string[];
  note?: string;
  /** A restore episode that left its source as it was (see restores.ts). */
  restored?: boolean;
}

export interface InjectorContext extends RestoreContext {
  /** The runner's own connection to the consumer's database (for the busy episodes on SQLite). */
  consumerOrm(): Promise<MikroORM>;
  /** Where the consumer's database lives when it is on a tmpfs of its own; undefined: no disk-full episode. */
  tmpfsDir: string | undefined;
}

/** How long a cut or a stall waits for the link it targets to be up. */
const LINK_WAIT_MS = 10_000;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Runs a schedule: each fault starts at its time, after the faults before it on the same resource have finished
 * (a killed consumer must be back before it can be stopped again). Resolves with every fault as it happened.
 */
export async function inject(
  faults: ScheduledFault[],
  context: InjectorContext,
  onFault: (record: FaultRecord) => void,
): Promise<FaultRecord[]> {
  const started = Date.now();
  const chains = new Map<string, Promise<unknown>>();
  const records: FaultRecord[] = [];
  for (const fault of faults) {
    await sleep(started + fault.at - Date.now());
    const resource = resourceOf(fault);
    const run = (chains.get(resource) ?? Promise.resolve()).then(async () => {
      const record = await apply(fault, context);
      records.push(record);
      onFault(record);
    });
    chains.set(resource, run);
  }
  await Promise.all(chains.values());
  return records.sort((a, b) => a.start - b.start);
}

async function apply(fault: ScheduledFault, context: InjectorContext): Promise<FaultRecord> {
  const { fleet } = context;
  const start = Date.now();
  const done = (effective: boolean, extra: Partial<FaultRecord> = {}): FaultRecord => ({
    fault,
    start,
    end: Date.now(),
    effective,
    ...extra,
  });
  switch (fault.kind) {
    case 'producer-kill': {
      const node = fleet.sources[fault.source]!;
      const running = node.producer?.child.exitCode === null;
      await fleet.killProducer(node);
      await sleep(fault.pauseMs);
      await fleet.startProducer(node);
      return done(running);
    }
    case 'consumer-kill':
      await fleet.killConsumer();
      await fleet.startConsumer();
      return done(true);
    case 'cut': {
      const { proxy } = fleet.sources[fault.source]!;
      // A cut of nothing proves nothing: wait (a little) for the producer to be connected.
      await sleepUntil(() => proxy.connections > 0, LINK_WAIT_MS);
      if (!fault.midFrame) {
        const open = proxy.connections > 0;
        proxy.cut();
        return done(open);
      }
      const fired = await Promise.race([proxy.cutMidFrame().then(() => true), sleep(10_000).then(() => false)]);
      if (fired || !proxy.disarm()) return done(true);
      proxy.cut();
      return done(false, { note: 'nothing passed for 10 s: a plain cut instead' });
    }
    case 'stall': {
      const node = fault.target === 'consumer' ? undefined : fleet.sources[fault.source]!;
      // As for cuts: a stall matters when the link is up, so give it a moment to be.
      const linkUp = await waitForLink(fleet, node);
      const pause = (on: boolean) => {
        if (fault.target === 'proxy') node!.proxy.stall(on);
        else fleet.signal(node ? node.producer : fleet.consumer, on ? 'SIGSTOP' : 'SIGCONT');
      };
      pause(true);
      await sleep(fault.ms);
      pause(false);
      const up = node ? linkUp.filter((id) => id === node.sourceId) : linkUp;
      return done(up.length > 0, { linkUp: up });
    }
    case 'busy': {
      await waitForLink(fleet, undefined);
      if (fleet.consumerDb.driver === 'postgresql') {
        const waiters = await lockPgCenter(fleet.consumerDb, fault.ms, LINK_WAIT_MS);
        return done(waiters > 0, { note: `${waiters} consumer statements waited on the lock` });
      }
      const connection = (await context.consumerOrm()).em.getConnection();
      const locked = await retry(() => connection.execute('begin exclusive'), 5000);
      const refused = await holdUntilRefused(fleet, start, fault.ms);
      if (locked) await connection.execute('rollback');
      return done(refused.length > 0, { note: locked ? refused[0] : 'could not take the lock' });
    }
    case 'disk-full': {
      if (!context.tmpfsDir) return done(false, { note: 'skipped: no tmpfs' });
      await waitForLink(fleet, undefined);
      const filler = fillDisk(context.tmpfsDir);
      const refused = await holdUntilRefused(fleet, start, fault.ms);
      freeDisk(filler);
      return done(refused.length > 0, { note: refused[0] });
    }
    case 'backup':
    case 'restore':
    case 'restore-before-first-sync':
    case 'restore-after-trim': {
      const { effective, note, restored } = await RESTORE_EPISODES[fault.kind](context, fault.source);
      return done(effective, { note, restored });
    }
  }
}

/**
 * Keeps an episode on for `ms`, and then on (up to LINK_WAIT_MS more) until the consumer has refused a batch
 * because of it: an episode during which no batch came would prove nothing.
 */
async function holdUntilRefused(fleet: Fleet, start: number, ms: number): Promise<string[]> {
  await sleep(ms);
  await sleepUntil(() => refusals(fleet, start).length > 0, LINK_WAIT_MS);
  return refusals(fleet, start);
}

/** Why the consumer could not commit batches since `start` (an episode bites only if some arrived during it). */
function refusals(fleet: Fleet, start: number): string[] {
  return fleet
    .logsOf('consumer')
    .filter((line) => line.code === 'OPLOG_APPLY_FAILED' && Number(line.time) >= start)
    .map((line) => String(line.err));
}

/** Sources connected to the consumer, once `node`'s link (or any, without a node) is up or LINK_WAIT_MS passed. */
async function waitForLink(fleet: Fleet, node: SourceNode | undefined): Promise<string[]> {
  const deadline = Date.now() + LINK_WAIT_MS;
  for (;;) {
    const up = await connectedSources(fleet);
    if (up.some((id) => !node || id === node.sourceId) || Date.now() > deadline) return up;
    await sleep(200);
  }
}

/** Sources connected to the consumer right now, from its status API (none when it does not answer). */
async function connectedSources(fleet: Fleet): Promise<string[]> {
  return (await fleet.sourceStatuses()).filter((s) => s.connected).map((s) => s.id);
}

async function retry(run: () => Promise<unknown>, forMs: number): Promise<boolean> {
  const deadline = Date.now() + forMs;
  for (;;) {
    try {
      await run();
      return true;
    } catch {
      if (Date.now() > deadline) return false;
      await sleep(50);
    }
  }
}
