import { backupDatabase, restoreDatabase } from '../support/db-backup.js';
import { type Fleet, type SourceNode, sleepUntil } from './fleet.js';

/** What the episodes that back up and restore a source need from the run. */
export interface RestoreContext {
  fleet: Fleet;
  loadRate: number;
  /** When the loads should be done (the end of the fault window). */
  loadEndsAt: number;
  seed: number;
  transactionsPerSource: number;
  /** The head of each source's backup, by source index. */
  backupHeads: Map<number, number>;
}

/** What a restore episode tells the injector: whether it proved anything, and why not. */
export interface EpisodeResult {
  effective: boolean;
  note?: string;
  /** False when the episode left the source as it was (its snapshot never finished): nothing to detect. */
  restored?: boolean;
}

/** The app writes this much before its producer first connects; the backup keeps the first part only. */
const BEFORE_BACKUP_TX = 20;
const AFTER_BACKUP_TX = 60;
/** The app writes this much between the backup and the trim of its outbox. */
const BEFORE_TRIM_TX = 100;
/** The trim leaves this many entries at the end of the outbox: everything before is gone, unapplied. */
const TRIM_KEEPS = 50;
/**
 * A snapshot that does not finish within this long (every other fault goes on meanwhile: cuts and stalls of the same
 * link can pile up) leaves the source unrestored. A restore in the middle of a snapshot is another case than the one
 * the episodes are about.
 */
const SYNC_WAIT_MS = 180_000;
/**
 * How long a restore waits for the consumer to pass the backup's head. Longer waits held a whole CI run for minutes
 * (the source's chain of faults waits behind it) when a source's producer was being killed over and over.
 */
const RESTORE_WAIT_MS = 30_000;

/** Before the run starts the producers: the first-sync source's app writes, is backed up, and writes more. */
export async function writeBeforeFirstSync(context: RestoreContext, index: number): Promise<void> {
  const node = context.fleet.sources[index]!;
  await writeUnpaced(context, node, index, BEFORE_BACKUP_TX);
  await takeBackup(context, node, index);
  await writeUnpaced(context, node, index, AFTER_BACKUP_TX);
}

/** The mid-run backup: the app and its producer stop, the database is copied aside, both start again. */
async function backupEpisode(context: RestoreContext, index: number): Promise<EpisodeResult> {
  const node = context.fleet.sources[index]!;
  await stopSource(context.fleet, node);
  await takeBackup(context, node, index);
  await context.fleet.startProducer(node);
  startRemainingLoad(context, node, index);
  return { effective: true };
}

/** The restore of the mid-run backup, once the consumer applied changes the backup lacks. */
async function restoreEpisode(context: RestoreContext, index: number): Promise<EpisodeResult> {
  const node = context.fleet.sources[index]!;
  // The restore must rewind what the consumer has applied, or it would prove nothing (and checkRestores would find
  // no rewind): wait for it to pass the backup's head first, and leave the source alone if it never does.
  const backupHead = context.backupHeads.get(index) ?? 0;
  if (!(await waitForCursor(context.fleet, node, (cursor) => cursor > backupHead, RESTORE_WAIT_MS))) {
    const note = `not restored: the consumer did not pass the backup's head within ${RESTORE_WAIT_MS / 1000} s`;
    return { effective: false, restored: false, note };
  }
  await stopSource(context.fleet, node);
  await putBack(node);
  await context.fleet.startProducer(node);
  startRemainingLoad(context, node, index);
  return { effective: true };
}

/**
 * A source whose app wrote before its producer first connected (writeBeforeFirstSync) syncs for the first time (a
 * snapshot, with nothing streamed after it: the cursor is the snapshot's own), is restored from the backup taken
 * before that sync, and writes more than it lost before its producer connects again.
 */
async function restoreBeforeFirstSyncEpisode(context: RestoreContext, index: number): Promise<EpisodeResult> {
  const { fleet } = context;
  const node = fleet.sources[index]!;
  const since = Date.now();
  await fleet.startProducer(node);
  const synced = await syncSnapshotOnly(fleet, node);
  if (synced === undefined) return notRestored(context, node, index);
  const snapshot = snapshotSince(fleet, node, since, 'new-source');
  await putBack(node);
  return finishRestore(context, node, index, AFTER_BACKUP_TX, synced, since, snapshot);
}

/**
 * A source is backed up, writes while its producer is away, loses the start of that history from its outbox (a
 * retention cap, an operator's cleanup: a history-trimmed snapshot follows), is restored from the backup and writes
 * more than it lost before its producer connects again.
 */
async function restoreAfterTrimEpisode(context: RestoreContext, index: number): Promise<EpisodeResult> {
  const { fleet } = context;
  const node = fleet.sources[index]!;
  const since = Date.now();
  await stopSource(fleet, node);
  await takeBackup(context, node, index);
  await writeUnpaced(context, node, index, BEFORE_TRIM_TX);
  const trimTo = (await node.head()).seq - TRIM_KEEPS;
  await (await node.orm()).em.getConnection().execute('delete from oplog_entry where seq <= ?', [trimTo], 'run');
  await fleet.startProducer(node);
  const synced = await syncSnapshotOnly(fleet, node);
  if (synced === undefined) return notRestored(context, node, index);
  const snapshot = snapshotSince(fleet, node, since, 'history-trimmed');
  await putBack(node);
  return finishRestore(context, node, index, BEFORE_TRIM_TX, synced, since, snapshot);
}

/** The snapshot never finished: the source goes on unrestored, and the episode proved nothing. */
async function notRestored(context: RestoreContext, node: SourceNode, index: number): Promise<EpisodeResult> {
  await context.fleet.startProducer(node);
  startRemainingLoad(context, node, index);
  const note = `not restored: the snapshot did not finish within ${SYNC_WAIT_MS / 1000} s`;
  return { effective: false, restored: false, note };
}

/**
 * After a restore: the app writes more than it lost (twice the lost transactions and then some, until its head
 * passes the snapshot cursor: only the log can tell it is another history), then the producer and the regular load
 * start again. Effective when the producer was told its source rewound.
 */
async function finishRestore(
  context: RestoreContext,
  node: SourceNode,
  index: number,
  lostTx: number,
  synced: number,
  since: number,
  snapshot: string,
): Promise<EpisodeResult> {
  const { fleet } = context;
  await writeUnpaced(context, node, index, lostTx * 2);
  for (let i = 0; i < 5 && (await node.head()).seq <= synced; i++) {
    await writeUnpaced(context, node, index, lostTx);
  }
  const head = (await node.head()).seq;
  await fleet.startProducer(node);
  startRemainingLoad(context, node, index);
  const rewound = await sleepUntil(
    () => fleet.logsOf(`producer ${node.label}`).some((l) => isRewound(l) && Number(l.time) >= since),
    30_000,
  );
  const passed = head > synced ? `head ${head} past the snapshot cursor ${synced}` : `head ${head} ≤ cursor ${synced}`;
  return {
    effective: rewound && head > synced,
    note: `${snapshot}, ${passed}, ${rewound ? 'rewind detected' : 'no rewind seen within 30 s'}`,
  };
}

/** Waits for the consumer to have applied the source's snapshot with nothing streamed after it; its cursor seq. */
async function syncSnapshotOnly(fleet: Fleet, node: SourceNode): Promise<number | undefined> {
  const { seq, incarnation } = await node.head();
  const synced = await waitForCursor(fleet, node, (cursor, status) => cursor === seq && status === incarnation);
  await stopSource(fleet, node);
  return synced ? seq : undefined;
}

/**
 * Whether the consumer logged the snapshot the episode caused (for the fault record): started, or resumed by a
 * consumer restarted in the middle (whose predecessor may have been killed before its line was out).
 */
function snapshotSince(fleet: Fleet, node: SourceNode, since: number, reason: string): string {
  const seen = fleet
    .logsOf('consumer')
    .some((l) => l.source === node.sourceId && l.reason === reason && Number(l.time) >= since);
  return seen ? `${reason} snapshot` : `no ${reason} snapshot logged`;
}

export const isRewound = (line: { msg?: string; code?: unknown }) =>
  line.msg === 'connection lost' && line.code === 'OPLOG_SOURCE_REWOUND';

/** The app and its producer stop cleanly, so that the database can be copied whole. */
async function stopSource(fleet: Fleet, node: SourceNode): Promise<void> {
  await fleet.stopLoad(node);
  await fleet.killProducer(node, 'SIGTERM');
}

async function takeBackup(context: RestoreContext, node: SourceNode, index: number): Promise<void> {
  await node.close();
  await backupDatabase(node.db);
  context.backupHeads.set(index, (await node.head()).seq);
}

async function putBack(node: SourceNode): Promise<void> {
  await node.close();
  await restoreDatabase(node.db);
}

/** A load run at full speed, to its end (the producer is away: the consumer sees none of it yet). */
async function writeUnpaced(context: RestoreContext, node: SourceNode, index: number, transactions: number) {
  context.fleet.startLoad(node, transactions, 100_000, loadSeed(context, node, index));
  const run = node.load!;
  if (!(await sleepUntil(() => run.result !== undefined, 120_000))) throw new Error(`${node.label}: a load hung`);
}

/**
 * The regular load, for what the source's share of the run has left (a different seed: changes never seen), a little
 * faster when the episode took long, so that it still ends with the fault window and the run takes no longer.
 */
function startRemainingLoad(context: RestoreContext, node: SourceNode, index: number): void {
  const committed = node.loads.reduce((sum, run) => sum + (run.result?.transactions ?? 0), 0);
  const rest = Math.max(1, context.transactionsPerSource - committed);
  const rate = Math.max(context.loadRate, rest / Math.max(5, (context.loadEndsAt - Date.now()) / 1000));
  context.fleet.startLoad(node, rest, rate, loadSeed(context, node, index));
}

const loadSeed = (context: RestoreContext, node: SourceNode, index: number) =>
  context.seed + node.loads.length * 1000 + index;

/** Polls the consumer's status until `check` holds for the source's cursor (up to SYNC_WAIT_MS); whether it did. */
async function waitForCursor(
  fleet: Fleet,
  node: SourceNode,
  check: (cursor: number, incarnation: string | null) => boolean,
  timeoutMs = SYNC_WAIT_MS,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const status = (await fleet.sourceStatuses()).find((s) => s.id === node.sourceId);
    if (status && !status.snapshot && check(status.cursor.seq, status.incarnation)) return true;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return false;
}

/** The episodes that back up or restore a source, by fault kind. */
export const RESTORE_EPISODES = {
  backup: backupEpisode,
  restore: restoreEpisode,
  'restore-before-first-sync': restoreBeforeFirstSyncEpisode,
  'restore-after-trim': restoreAfterTrimEpisode,
} satisfies Record<string, (context: RestoreContext, index: number) => Promise<EpisodeResult>>;
