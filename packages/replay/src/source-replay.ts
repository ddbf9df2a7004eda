import { setTimeout as sleep } from 'node:timers/promises';
import {
  advanceCursor,
  advanceSnapshot,
  type Cursor,
  type Hello,
  haltsSource,
  type OplogEntry,
  OplogError,
  type Position,
  planSession,
  type SessionPlan,
  type SnapshotPage,
  type SnapshotReason,
} from '@oplog/protocol';
import type { StoredSource } from './cursor-store.js';
import { logStep, type OpenTransaction, type QueuedBatch } from './log-step.js';
import { RateLimit } from './rate-limit.js';
import type { StoredSnapshot } from './snapshot-store.js';
import { Presence, rememberPosition } from './source-presence.js';
import type { SourceStore, Step } from './source-store.js';

/** What a session needs to hear back from the apply loop. */
export interface BatchOwner {
  readonly incarnation: string;
  ack(frameId: number, seq: number): void;
  fail(error: OplogError): void;
}

type Pending =
  | { owner: BatchOwner; frameId: number; entries: OplogEntry[]; partial: boolean; bytes: number; page?: undefined }
  | {
      owner: BatchOwner;
      frameId: number;
      page: SnapshotPage;
      entries?: undefined;
      partial?: undefined;
      bytes?: undefined;
    };

/** What one source may send, enforced before anything of a batch is applied, and what becomes of poison. */
export interface SourceRules {
  /** A batch frame with more entries is refused with OPLOG_BATCH_TOO_BIG. */
  maxBatchEntries: number;
  /** Entries applied per second at most (undefined: no limit); beyond it the apply waits, and so do the acks. */
  maxEntriesPerSecond?: number;
  /**
   * A source transaction the consumer cannot apply (OPLOG_POISON_CHANGE): `halt` the source there until the cause
   * is fixed (default), or `quarantine` it and go on.
   */
  poison?: 'halt' | 'quarantine';
}

/** Entries applied together when batches queue up: group commit, to catch up a backlog faster. */
const GROUP_ENTRIES = 5000;

/** Batch starts remembered beyond the cursor: about what a producer's window holds in flight. */
const MAX_RECEIVED = 64;

/**
 * One source's replication state on the consumer, shared by its successive sessions. Work is applied one step
 * at a time, so two sessions of the same source can never apply concurrently, and every ack follows the commit
 * that made it true.
 */
export class SourceReplay {
  /** Durable: what is committed (or, for a snapshot, the log position it continues from). */
  cursor: Cursor;
  covered: readonly string[];
  snapshot: StoredSnapshot | undefined;
  /** How far the source's log reaches, as last heard: see `reachHead` for the one rule that moves it. */
  head: Position;
  /** The session whose batches are applied and acked: see attach and detach. */
  session: BatchOwner | undefined;
  /** What was heard from the source and when, for the lag model. */
  readonly presence = new Presence();
  lastError: { code: string; message: string; at: number } | undefined;
  /** When a second producer of this source was last refused while this one streamed. */
  fencedAt: number | undefined;
  /** Set while a poison change holds the source back (cleared by the next commit that succeeds). */
  halted: { code: string; message: string; at: number } | undefined;
  /** The last time this source was (re)snapshotted from scratch, and why. */
  lastResync: { reason: SnapshotReason; at: number } | undefined;
  appliedEntries = 0;
  quarantinedEntries = 0;
  #queue: Pending[] = [];
  /**
   * A transaction too big for one batch, whose parts so far are staged durably (acked with the durable seq) and
   * apply with the step that brings its last part.
   */
  #open: ({ owner: BatchOwner } & OpenTransaction) | undefined;
  #working: Promise<void> | undefined;
  readonly #rate: RateLimit | undefined;

  constructor(
    readonly id: string,
    stored: Omit<StoredSource, 'updatedAt'>,
    private readonly store: SourceStore,
    private readonly rules: SourceRules = { maxBatchEntries: Number.POSITIVE_INFINITY },
  ) {
    this.cursor = stored.cursor;
    this.covered = stored.covered;
    this.snapshot = stored.snapshot as StoredSnapshot | undefined;
    this.head = stored.head;
    this.#rate = rules.maxEntriesPerSecond === undefined ? undefined : new RateLimit(rules.maxEntriesPerSecond);
  }

  /**
   * Decides how a new session starts (see planSession) once nothing of an earlier session is being applied, and
   * makes a fresh snapshot durable before the welcome announces it.
   */
  async start(hello: Hello, entities: readonly string[]): Promise<SessionPlan> {
    await this.idle();
    // From the database, not memory: a consumer that lost a race with another one (its step refused with
    // OPLOG_CURSOR_CONFLICT) must not go on from its stale view.
    const durable = await this.store.load(this.id);
    Object.assign(this, { cursor: durable.cursor, covered: durable.covered, snapshot: durable.snapshot });
    const plan = planSession(this, hello, entities);
    if (plan.kind !== 'snapshot' || !plan.fresh) return plan;
    const { cursor } = plan;
    const covered = plan.reason === 'new-entities' ? this.covered : [];
    // A source that replicates nothing the consumer has: nothing to read, its log starts at its head (kept in
    // memory only: after a restart the same empty snapshot is planned again).
    if (plan.request.entities.length === 0) {
      Object.assign(this, { cursor, covered });
      return { kind: 'stream' };
    }
    const now = Date.now();
    const snapshot: StoredSnapshot = {
      incarnation: hello.incarnation,
      reason: plan.reason,
      entities: plan.request.entities,
      done: 0,
      after: null,
      highWater: hello.head.seq,
      rows: 0,
      total: 0,
      startedAt: now,
    };
    await this.store.restart({ source: this.id, cursor, covered, snapshot, head: hello.head });
    Object.assign(this, { cursor, covered, snapshot, lastResync: { reason: plan.reason, at: now } });
    return plan;
  }

  /**
   * A new session of the source (its hello was admitted): it is the one applied, acked and heard from now on, and
   * its hello sets the head afresh, lower too (a source restored from a backup has a shorter log).
   */
  attach(owner: BatchOwner, head: Position, now = Date.now()): void {
    this.session = owner;
    this.head = head;
    // A new session resends from the cursor; what the last one received may belong to another history.
    Object.assign(this.presence, { disconnectedAt: undefined, received: [], lastSeenAt: now, headHeardAt: now });
  }

  /** The session closed: unless a newer one replaced it, the source is offline and its queued work is dropped. */
  detach(owner: BatchOwner, now = Date.now()): boolean {
    if (this.session !== owner) return false;
    this.session = undefined;
    this.presence.disconnectedAt = now;
    this.forget(owner);
    return true;
  }

  /** Any frame or pong of the attached session is a sign of life (see PresenceView.lastSeenAt). */
  heard(owner: BatchOwner, now = Date.now()): void {
    if (this.session === owner) this.presence.lastSeenAt = now;
  }

  /** A second producer of this source was refused while this one streams. */
  fenced(now = Date.now()): void {
    this.fencedAt = now;
  }

  /**
   * The one rule for the head between hellos: it moves on, never back (a head report can cross a batch that went
   * further). `toldAt`: when the source told its head as it stood then (a heartbeat, a head report), which a batch's
   * last entry is not (the producer may hold more). Returns whether the head moved.
   */
  reachHead(head: Position, toldAt?: number): boolean {
    if (toldAt !== undefined) this.presence.headHeardAt = toldAt;
    if (head.seq <= this.head.seq) return false;
    this.head = head;
    return true;
  }

  /** The local app reported its head (POST /api/head) while its producer may be down. */
  reportHead(head: Position, now = Date.now()): boolean {
    this.presence.headReportedAt = now;
    return this.reachHead(head, now);
  }

  /** `partial`: the batch ends inside a transaction whose next part follows; `bytes`: the frame's size. */
  enqueue(owner: BatchOwner, frameId: number, entries: OplogEntry[], partial: boolean, bytes: number): void {
    const [first, last] = [entries[0]!, entries.at(-1)!];
    this.reachHead({ seq: last.seq, epoch: last.epoch });
    const { presence } = this;
    presence.received = rememberPosition(presence.received, first, this.cursor.seq, MAX_RECEIVED);
    const { maxBatchEntries } = this.rules;
    if (entries.length > maxBatchEntries) this.#refuse(owner, OplogError.batchTooBig(entries.length, maxBatchEntries));
    else this.#push({ owner, frameId, entries, partial, bytes });
  }

  enqueuePage(owner: BatchOwner, frameId: number, page: SnapshotPage): void {
    this.reachHead(page.head);
    this.#push({ owner, frameId, page });
  }

  /** Resolves when nothing is being applied. */
  async idle(): Promise<void> {
    while (this.#working) await this.#working;
  }

  /** Drops the queued work of a session that is gone; its producer will resend it from the cursor. */
  forget(owner: BatchOwner): void {
    this.#queue = this.#queue.filter((item) => item.owner !== owner);
    if (this.#open?.owner === owner) this.#open = undefined;
  }

  #push(item: Pending): void {
    this.#queue.push(item);
    this.#run();
  }

  /**
   * Starts the apply loop unless one runs. A loop that ends without awaiting (a partial part, a resend) settles only
   * in a later microtask, and ws delivers the next frames of a TCP chunk before that: they are queued while
   * `#working` is still set, so the loop starts again from its `finally` for whatever it left in the queue.
   */
  #run(): void {
    if (this.#working || this.#queue.length === 0) return;
    this.#working = this.#work().finally(() => {
      this.#working = undefined;
      this.#run();
    });
  }

  async #work(): Promise<void> {
    while (this.#queue.length > 0) {
      const group = this.#takeGroup();
      const owner = group[0]!.owner;
      const acks: [frameId: number, seq: number][] = [];
      try {
        const step = this.#prepare(group, owner, acks);
        if (step.page || step.entries.length > 0 || step.stage) {
          const rows = step.entries.length + (step.stage?.entries.length ?? 0) + (step.page?.rows.length ?? 0);
          const wait = this.#rate?.take(rows) ?? 0;
          if (wait > 0) await sleep(wait);
          await this.#commit(step).catch((error: unknown) => {
            // Only log entries applied straight are parked: a snapshot's rows halt, so that none goes missing.
            const parkable = this.rules.poison === 'quarantine' && !step.page && !step.snapshot;
            if (!haltsSource((error as Partial<OplogError>).code) || !parkable) throw error;
            return this.#quarantineBad(step, owner.incarnation);
          });
        }
        this.halted = undefined;
      } catch (error) {
        const failure = error instanceof OplogError ? error : OplogError.internal(error);
        if (failure.haltsSource) {
          this.halted = { code: failure.code, message: failure.message, at: Date.now() };
        }
        this.#refuse(owner, failure);
        continue;
      }
      for (const [frameId, seq] of acks) owner.ack(frameId, seq);
    }
  }

  async #commit(step: Step): Promise<void> {
    const outcome = await this.store.commit(step).catch((error: unknown) => {
      throw error instanceof OplogError ? error : OplogError.applyFailed(error);
    });
    Object.assign(this, { cursor: step.cursor, ...outcome });
    this.appliedEntries += step.entries.length + (step.staged?.count ?? 0);
  }

  /**
   * A group with poison in it, again one source transaction per commit: the ones that apply are applied, the ones
   * that do not are quarantined, each with the cursor past it, so the stream goes on and nothing is skipped silently.
   */
  async #quarantineBad(step: Step, incarnation: string): Promise<void> {
    // The first transaction may be the end of one whose parts are staged: they are applied or parked with it.
    let staged = step.staged;
    const one = (entries: OplogEntry[], cursor: Cursor): Step => ({
      ...step,
      entries,
      cursor,
      covered: this.covered,
      snapshot: this.snapshot,
      staged,
      stage: undefined,
    });
    for (const entries of transactionsOf(step.entries)) {
      const cursor = advanceCursor(this.cursor, incarnation, entries);
      const single = one(entries, cursor);
      staged = undefined;
      try {
        await this.#commit(single);
      } catch (error) {
        if (!(error instanceof OplogError) || !error.haltsSource) throw error;
        await this.store.quarantine(single, error);
        this.cursor = cursor;
        this.quarantinedEntries += entries.length + (single.staged?.count ?? 0);
      }
    }
    if (step.stage) await this.#commit({ ...one([], this.cursor), stage: step.stage });
  }

  #refuse(owner: BatchOwner, failure: OplogError): void {
    this.lastError = { code: failure.code, message: failure.message, at: Date.now() };
    this.forget(owner);
    owner.fail(failure);
  }

  /**
   * The step a group makes: a page moves the snapshot on, entries the cursor (see logStep). The parts of a
   * transaction that is not complete yet are staged (acked with the durable seq) and applied by the step that
   * completes it. Throws when the group is refused.
   */
  #prepare(group: Pending[], owner: BatchOwner, acks: [number, number][]): Step {
    const [first] = group;
    const step = {
      source: this.id,
      page: first?.page,
      covered: this.covered,
      snapshot: this.snapshot,
      head: this.head,
    };
    if (first?.page) {
      if (!this.snapshot) throw OplogError.badFrame('a snapshot page, but no snapshot was asked for');
      acks.push([first.frameId, this.cursor.seq]);
      const snapshot = { ...advanceSnapshot(this.snapshot, first.page), startedAt: this.snapshot.startedAt };
      return { ...step, entries: [], bytes: 0, cursor: this.cursor, snapshot };
    }
    const open = this.#open?.owner === owner ? this.#open : undefined;
    const session = { source: this.id, incarnation: owner.incarnation };
    const made = logStep(this.cursor, open, session, group as QueuedBatch[], acks);
    this.#open = made.open && { owner, ...made.open };
    const { entries, bytes, cursor, staged, stage } = made;
    return { ...step, entries, bytes, cursor, staged, stage };
  }

  /** A snapshot page alone, or consecutive batches of the same session up to GROUP_ENTRIES entries. */
  #takeGroup(): Pending[] {
    const first = this.#queue.shift()!;
    const group = [first];
    if (first.page) return group;
    let size = first.entries.length;
    for (;;) {
      const next = this.#queue[0];
      if (!next?.entries || next.owner !== first.owner || size + next.entries.length > GROUP_ENTRIES) break;
      group.push(this.#queue.shift()!);
      size += next.entries.length;
    }
    return group;
  }
}

/** Consecutive runs of entries of one source transaction. */
function* transactionsOf(entries: readonly OplogEntry[]): Generator<OplogEntry[]> {
  let start = 0;
  while (start < entries.length) {
    let end = start + 1;
    while (end < entries.length && entries[end]!.txId === entries[start]!.txId) end++;
    yield entries.slice(start, end);
    start = end;
  }
}
