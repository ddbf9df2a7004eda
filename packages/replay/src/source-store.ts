import { ConstraintViolationException, type EntityManager, type MikroORM, type Transaction } from '@mikro-orm/core';
import {
  type Cursor,
  type Json,
  type OplogEntry,
  type OplogError,
  type Position,
  type SnapshotPage,
  type SourceRecord,
  snapshotReady,
} from '@oplog/protocol';
import type { Applier, ApplyContext } from './applier.js';
import { CursorGuard } from './cursor-guard.js';
import { diagnosePoison } from './failure-diagnosis.js';
import { clearStaged, quarantineStaged, type StagedParts, stagedPages, stageParts } from './open-transaction-store.js';
import { quarantine } from './quarantine.js';
import { StagingArea, type StoredSnapshot, saveSnapshot } from './snapshot-store.js';
import { runScript } from './sql-script.js';

/** Rows moved per statement group when a snapshot's staged rows replace a source's rows. */
const SWAP_PAGE = 1000;

/** One step of a source, committed in one transaction: a snapshot page or log entries, and the state after them. */
export interface Step {
  source: string;
  entries: readonly OplogEntry[];
  /** The size of the batch frames the entries came in (for metrics). */
  bytes: number;
  page: SnapshotPage | undefined;
  cursor: Cursor;
  covered: readonly string[];
  snapshot: StoredSnapshot | undefined;
  head: Position;
  /** Completes a transaction received in parts: its `count` staged entries, from seq `from`, apply before `entries`. */
  staged?: { from: number; count: number };
  /** Parts of a transaction that goes on after this step, staged with it (see open-transaction-store.ts). */
  stage?: StagedParts;
}

/** Where a source's state is made durable (the consumer's database). */
export interface SourceStore {
  /** The source's durable record, read afresh (the blank one when it has none). */
  load(source: string): Promise<SourceRecord>;
  /**
   * Commits a step. When it completes a snapshot, the staged rows replace the source's rows in the same
   * transaction; the result is then the state without the snapshot.
   */
  commit(step: Step): Promise<Pick<Step, 'covered' | 'snapshot'>>;
  /** Starts a snapshot over: drops anything staged and stores the new cursor and progress. */
  restart(step: Omit<Step, 'entries' | 'bytes' | 'page'>): Promise<void>;
  /** Parks a step's entries (one source transaction) instead of applying them, and moves the cursor past them. */
  quarantine(step: Step, error: OplogError): Promise<void>;
}

/**
 * The consumer's database as a SourceStore. Every step is one transaction: the data (applied, or staged while a
 * snapshot of its entity runs), the snapshot's progress and the cursor. The step that completes a snapshot also
 * replaces the source's rows with the staged ones, so a resync is never half visible.
 */
export class DatabaseSourceStore implements SourceStore {
  /** Every cursor write below goes through it: none lands over a cursor another consumer wrote since. */
  readonly #cursors: CursorGuard;

  constructor(
    private readonly orm: MikroORM,
    private readonly applier: Applier,
    private readonly contextOf: (source: string) => ApplyContext,
  ) {
    this.#cursors = new CursorGuard(() => orm.em.getConnection('write'));
  }

  load(source: string): ReturnType<SourceStore['load']> {
    return this.#cursors.load(source);
  }

  async restart(step: Omit<Step, 'entries' | 'bytes' | 'page'>): Promise<void> {
    await this.#cursors.write(step.source, () =>
      this.#transaction(async (em, trx) => {
        const connection = em.getConnection('write');
        await new StagingArea(connection, trx, step.source).clear();
        await saveSnapshot(connection, trx, step.source, step.snapshot);
        await this.#cursors.save(connection, trx, step.source, step.cursor, step.covered, step.head);
      }),
    );
  }

  commit(step: Step): Promise<Pick<Step, 'covered' | 'snapshot'>> {
    return this.#cursors.write(step.source, () => this.#commit(step));
  }

  async #commit(step: Step): Promise<Pick<Step, 'covered' | 'snapshot'>> {
    try {
      if (step.page || step.snapshot || step.staged || step.stage) return await this.#commitWithSnapshot(step);
      await this.#commitStreamed(step);
      return step;
    } catch (failure) {
      // A snapshot's swap fails on the staged rows it was writing, a streamed step on its entries.
      const { error, entries } =
        failure instanceof SwapFailure ? failure : { error: failure, entries: step.entries as OplogEntry[] };
      if (!(error instanceof ConstraintViolationException) || entries.length === 0) throw error;
      // A row of another source fails the ownership claim (or the check of the rows a change points at); anything
      // else the database refuses by its data fails the same way on every retry: poison.
      const context = this.contextOf(step.source);
      const foreign = await this.applier.foreignOwner(this.orm.em.fork(), entries, context);
      throw foreign ?? (await diagnosePoison(this.orm, this.applier, entries, context, error));
    }
  }

  async quarantine(step: Step, error: OplogError): Promise<void> {
    await this.#cursors.write(step.source, () =>
      this.#transaction(async (em, trx) => {
        const connection = em.getConnection('write');
        if (step.staged) await quarantineStaged(connection, trx, step.source, step.staged.from, error);
        await quarantine(connection, trx, step.source, step.entries, error);
        await this.#cursors.save(connection, trx, step.source, step.cursor, step.covered, step.head);
      }),
    );
  }

  /** The common step, log entries with no snapshot running: the data and the cursor, in one trip to the database. */
  async #commitStreamed(step: Step): Promise<void> {
    const { source, entries, cursor, covered, head } = step;
    const data = entries.length > 0 ? this.applier.statements(entries, this.contextOf(source)) : [];
    await runScript(this.orm, [...data, this.#cursors.statement(source, cursor, covered, head)]);
  }

  async #commitWithSnapshot(step: Step): Promise<Pick<Step, 'covered' | 'snapshot'>> {
    const context = this.contextOf(step.source);
    let { covered, snapshot } = step;
    await this.#transaction(async (em, trx) => {
      const connection = em.getConnection('write');
      const staging = new StagingArea(connection, trx, step.source);
      if (step.page) await this.#stagePage(staging, step.page, context);
      if (step.staged) {
        // The parts of a transaction received in pages, before its last part: in pages too, within this transaction.
        for await (const page of stagedPages(connection, trx, step.source, step.staged.from)) {
          await this.#applyOrStage(em, trx, staging, snapshot, page, context).catch(SwapFailure.rethrow(page));
        }
        await clearStaged(connection, trx, step.source);
      }
      await this.#applyOrStage(em, trx, staging, snapshot, step.entries, context);
      if (step.stage) await stageParts(connection, trx, step.source, step.stage);
      if (snapshot && snapshotReady(snapshot, step.cursor)) {
        await this.#replaceRows(em, trx, staging, snapshot.entities, context);
        covered = [...new Set([...covered, ...snapshot.entities])];
        snapshot = undefined;
      }
      if (step.page || snapshot !== step.snapshot) await saveSnapshot(connection, trx, step.source, snapshot);
      await this.#cursors.save(connection, trx, step.source, step.cursor, covered, step.head);
    });
    return { covered, snapshot };
  }

  /** Applies log entries, except those of entities being snapshotted: they update the staged rows instead. */
  async #applyOrStage(
    em: EntityManager,
    trx: Transaction,
    staging: StagingArea,
    snapshot: Step['snapshot'],
    entries: readonly OplogEntry[],
    context: ApplyContext,
  ): Promise<void> {
    const staged = snapshot ? entries.filter((e) => snapshot.entities.includes(e.entity)) : [];
    const direct = staged.length > 0 ? entries.filter((e) => !staged.includes(e)) : entries;
    if (direct.length > 0) await this.applier.apply(em, trx, direct, context);
    if (staged.length > 0) await this.#stageEntries(staging, staged, context);
  }

  #transaction(work: (em: EntityManager, trx: Transaction) => Promise<void>): Promise<void> {
    return this.orm.em.fork().transactional((em) => work(em, em.getTransactionContext<Transaction>()!));
  }

  async #stagePage(staging: StagingArea, page: SnapshotPage, context: ApplyContext): Promise<void> {
    const rows = page.rows.map((image) => {
      const key = this.applier.rowKey(page.entity, image);
      return { key, entry: asEntry(page.entity, 'insert', this.applier.keyToPk(page.entity, key), image) };
    });
    this.applier.validate(
      rows.map((row) => row.entry),
      context,
    );
    await staging.put(
      page.entity,
      rows.map(({ key, entry }) => [key, JSON.stringify(entry.after)] as const),
    );
  }

  /**
   * Log entries of an entity being snapshotted update its staged rows in seq order. An after-image holds every
   * column, but a many-to-many list only when it changed: images are merged, so a staged list survives.
   */
  async #stageEntries(staging: StagingArea, entries: readonly OplogEntry[], context: ApplyContext): Promise<void> {
    this.applier.validate(entries, context);
    const byEntity = new Map<string, OplogEntry[]>();
    for (const entry of entries) byEntity.set(entry.entity, [...(byEntity.get(entry.entity) ?? []), entry]);
    for (const [entity, list] of byEntity) {
      const keys = list.map((entry) => this.applier.rowKey(entity, entry.pk));
      const stored = await staging.get(entity, [...new Set(keys)]);
      const state = new Map<string, Record<string, Json> | null>();
      list.forEach((entry, i) => {
        const key = keys[i]!;
        const before = state.has(key) ? state.get(key) : parse(stored.get(key));
        state.set(key, entry.op === 'delete' ? null : { ...before, ...entry.after });
      });
      const images = [...state].filter(([, image]) => image !== null);
      await staging.put(
        entity,
        images.map(([key, image]) => [key, JSON.stringify(image)] as const),
      );
      await staging.remove(
        entity,
        [...state].filter(([, image]) => image === null).map(([key]) => key),
      );
    }
  }

  /**
   * The staged rows become the source's rows: upserted parents first, then the rows the source owns but no longer
   * has are deleted, children first, so foreign keys hold at every statement.
   */
  async #replaceRows(
    em: EntityManager,
    trx: Transaction,
    staging: StagingArea,
    entities: readonly string[],
    context: ApplyContext,
  ): Promise<void> {
    const order = this.applier.entities.filter((entity) => entities.includes(entity));
    for (const entity of order) {
      let afterKey = '';
      for (;;) {
        const rows = await staging.page(entity, afterKey, SWAP_PAGE);
        if (rows.length === 0) break;
        const entries = rows.map((row) =>
          asEntry(entity, 'update', this.applier.keyToPk(entity, row.pk_key), JSON.parse(row.image)),
        );
        await this.applier.apply(em, trx, entries, context).catch(SwapFailure.rethrow(entries));
        afterKey = rows.at(-1)!.pk_key;
      }
    }
    for (const entity of order.reverse()) {
      for (;;) {
        const keys = await staging.vanished(entity, SWAP_PAGE);
        if (keys.length === 0) break;
        const entries = keys.map((key) => asEntry(entity, 'delete', this.applier.keyToPk(entity, key), undefined));
        await this.applier.apply(em, trx, entries, context).catch(SwapFailure.rethrow(entries));
      }
    }
    await staging.clear();
  }
}

/**
 * A snapshot's swap that failed, with the staged rows it was writing (or a page of a transaction staged in parts,
 * with its entries): what the failure is diagnosed on.
 */
class SwapFailure extends Error {
  constructor(
    readonly error: unknown,
    readonly entries: OplogEntry[],
  ) {
    super('snapshot swap failed', { cause: error });
  }

  static rethrow(entries: OplogEntry[]): (error: unknown) => never {
    return (error) => {
      throw new SwapFailure(error, entries);
    };
  }
}

function parse(image: string | undefined): Record<string, Json> | undefined {
  return image === undefined ? undefined : (JSON.parse(image) as Record<string, Json>);
}

/** A staged row or a vanished one, as an entry the applier takes (it reads only entity, op, pk and after). */
function asEntry(
  entity: string,
  op: OplogEntry['op'],
  pk: Record<string, Json>,
  after: Record<string, Json> | undefined,
): OplogEntry {
  return { source: '', incarnation: '', seq: 0, txId: '', epoch: 0, entity, op, pk, ...(after ? { after } : {}) };
}
