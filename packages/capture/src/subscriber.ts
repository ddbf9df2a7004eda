import { EventEmitter } from 'node:events';
import {
  type ChangeSet,
  type EntityManager,
  type EntityMetadata,
  type EventArgs,
  type EventSubscriber,
  type FlushEventArgs,
  helper,
  ReferenceKind,
  type Transaction,
  type TransactionEventArgs,
  type UnitOfWork,
} from '@mikro-orm/core';
import { type Json, OplogError } from '@oplog/protocol';
import { nanoid } from 'nanoid';
import { uncapturedCascades } from './cascade-check.js';
import { afterImage, primaryKeyOf } from './image.js';
import { OUTBOX_ENTITY_NAMES } from './outbox-schema.js';
import { appendToOutbox, type PendingChange, type SourceHead } from './outbox-writer.js';

export interface CaptureOptions {
  /** Entity names to replicate. Default: every entity except the outbox's own. */
  include?: readonly string[];
  /** Entity names never to replicate. */
  exclude?: readonly string[];
}

/**
 * Writes one outbox row per change, inside the transaction that makes the change.
 *
 * Rows are collected per unit of work from the after-create/update/delete hooks (so they are in the order the
 * ORM executed the writes, which keeps foreign keys valid on replay) and written with one batched insert:
 * - for a flush inside `em.transactional`, in `afterFlush`, which still runs inside that transaction (or
 *   savepoint, whose rollback then drops the rows with the data);
 * - for a flush that opens its own transaction, in `beforeTransactionCommit`.
 */
export class OplogCapture implements EventSubscriber {
  readonly #include: ReadonlySet<string> | undefined;
  readonly #exclude: ReadonlySet<string>;
  readonly #pending = new WeakMap<UnitOfWork, PendingChange[]>();
  readonly #txIds = new WeakMap<Transaction, string>();
  readonly #commits = new EventEmitter();
  readonly #checked = new WeakSet<object>();

  constructor(options: CaptureOptions = {}) {
    this.#include = options.include && new Set(options.include);
    this.#exclude = new Set([...(options.exclude ?? []), ...OUTBOX_ENTITY_NAMES]);
  }

  /** The capture registered on this ORM's event manager, if any. */
  static registeredOn(orm: { em: EntityManager }): OplogCapture | undefined {
    for (const subscriber of orm.em.getEventManager().getSubscribers()) {
      if (subscriber instanceof OplogCapture) return subscriber;
    }
    return undefined;
  }

  /** Whether changes to this entity are captured. */
  replicates(entityName: string): boolean {
    return !this.#exclude.has(entityName) && (this.#include?.has(entityName) ?? true);
  }

  /** Calls `listener` after every commit that may have appended to the outbox (to wake an embedded producer). */
  onCommit(listener: () => void): () => void {
    this.#commits.on('commit', listener);
    return () => this.#commits.off('commit', listener);
  }

  onFlush({ em }: FlushEventArgs): void {
    if (!em.getTransactionContext() && !em.config.get('implicitTransactions')) {
      throw OplogError.needsTransaction('a flush with implicitTransactions disabled');
    }
    this.#warnOnce(em);
  }

  /** Database-level cascades are the one delete capture cannot see: say so the first time the app writes. */
  #warnOnce(em: EntityManager): void {
    const metadata = em.getMetadata();
    if (this.#checked.has(metadata)) return;
    this.#checked.add(metadata);
    for (const warning of uncapturedCascades(metadata, (name) => this.replicates(name))) {
      process.emitWarning(warning, { code: 'OPLOG_CASCADE_NOT_CAPTURED' });
    }
  }

  afterCreate(args: EventArgs<object>): void {
    this.#collect(args, 'insert');
  }

  afterUpdate(args: EventArgs<object>): void {
    this.#collect(args, 'update');
  }

  afterDelete(args: EventArgs<object>): void {
    this.#collect(args, 'delete');
  }

  beforeUpsert({ em, meta }: EventArgs<object>): void {
    if (meta && this.replicates(meta.className) && !em.getTransactionContext()) {
      throw OplogError.needsTransaction(`em.upsert() of ${meta.className}`);
    }
  }

  async afterUpsert({ em, entity, meta }: EventArgs<object>): Promise<void> {
    const trx = em.getTransactionContext<Transaction>();
    if (!meta || !trx || !this.replicates(meta.className)) return;
    const image = afterImage(em, entity);
    await this.#append(em, trx, [toChange(meta, 'update', image, undefined)]);
  }

  async afterFlush({ em, uow }: FlushEventArgs): Promise<void> {
    const trx = em.getTransactionContext<Transaction>();
    if (trx) await this.#drain(em, uow, trx);
  }

  async beforeTransactionCommit({ em, uow, transaction }: TransactionEventArgs): Promise<void> {
    if (uow && transaction) await this.#drain(em, uow, transaction);
  }

  afterTransactionCommit(): void {
    this.#commits.emit('commit');
  }

  afterTransactionRollback({ uow }: TransactionEventArgs): void {
    if (uow) this.#pending.delete(uow);
  }

  /**
   * Records writes the ORM's events cannot see (native updates and deletes, insertMany, QueryBuilder, raw SQL)
   * by primary key, inside the caller's transaction: each row is read back and recorded with its current
   * image, or as a delete when it no longer exists.
   */
  async recordWrites(em: EntityManager, entityName: string, pks: readonly Record<string, unknown>[]): Promise<void> {
    const trx = em.getTransactionContext<Transaction>();
    if (!trx) throw OplogError.needsTransaction(`recordWrites(${entityName})`);
    const meta = em.getMetadata().find(entityName);
    if (!meta || !this.replicates(meta.className)) {
      throw OplogError.captureMisuse(`${entityName} is not a replicated entity`);
    }
    const fork = em.fork({ clear: true, keepTransactionContext: true });
    const found = await fork.find(meta.className, { $or: pks as object[] }, { refresh: true });
    const images = new Map<string, Record<string, unknown>>();
    for (const entity of found) {
      const image = afterImage(fork, entity);
      images.set(JSON.stringify(primaryKeyOf(meta, image)), image);
    }
    const changes = pks.map((pk) => {
      const image = images.get(JSON.stringify(primaryKeyOf(meta, pk as Record<string, never>)));
      return image ? toChange(meta, 'update', image, undefined) : toChange(meta, 'delete', pk, undefined);
    });
    await this.#append(em, trx, changes);
  }

  #collect({ em, entity, changeSet }: EventArgs<object>, op: PendingChange['op']): void {
    const meta = changeSet?.meta;
    if (!meta || !this.replicates(meta.className)) return;
    const uow = em.getUnitOfWork(false);
    let pending = this.#pending.get(uow);
    if (!pending) {
      pending = [];
      this.#pending.set(uow, pending);
    }
    const image = afterImage(em, entity);
    pending.push(toChange(meta, op, image, op === 'update' ? changedProperties(changeSet) : undefined));
  }

  async #drain(em: EntityManager, uow: UnitOfWork, trx: Transaction): Promise<void> {
    const pending = this.#pending.get(uow) ?? [];
    this.#pending.delete(uow);
    const changes = withCollectionUpdates(em, uow, pending, this);
    if (changes.length > 0) await this.#append(em, trx, changes);
  }

  async #append(em: EntityManager, trx: Transaction, changes: readonly PendingChange[]): Promise<SourceHead> {
    return appendToOutbox(em.getConnection('write'), trx, this.#txIdOf(trx), changes);
  }

  /** Every flush and savepoint of one database transaction shares the txId of its root transaction. */
  #txIdOf(trx: Transaction): string {
    let root = trx as Transaction & { parentTransaction?: Transaction };
    while (root.parentTransaction) root = root.parentTransaction as typeof root;
    let txId = this.#txIds.get(root);
    if (!txId) {
      txId = nanoid();
      this.#txIds.set(root, txId);
    }
    return txId;
  }
}

function toChange(
  meta: EntityMetadata,
  op: PendingChange['op'],
  image: Record<string, unknown>,
  changed: string[] | undefined,
): PendingChange {
  const pk = primaryKeyOf(meta, image as Record<string, never>);
  return {
    entity: meta.className,
    op,
    pk: JSON.stringify(pk),
    after: op === 'delete' ? null : JSON.stringify(image),
    changed: changed ? JSON.stringify(changed) : null,
  };
}

function changedProperties(changeSet: ChangeSet<object>): string[] {
  const fieldToProp = changeSet.meta.properties;
  return Object.keys(changeSet.payload).filter((name) => name in fieldToProp);
}

/**
 * Many-to-many changes are not change sets. For each owning collection that changed, record the owner's image
 * with that collection's full list of keys, which replay turns into the pivot rows. They go after the inserts
 * and updates and before the first delete, where the ORM also syncs pivot tables.
 */
function withCollectionUpdates(
  em: EntityManager,
  uow: UnitOfWork,
  pending: PendingChange[],
  capture: OplogCapture,
): PendingChange[] {
  const extra: PendingChange[] = [];
  for (const collection of uow.getCollectionUpdates()) {
    const { property } = collection;
    if (property.kind !== ReferenceKind.MANY_TO_MANY || !property.owner) continue;
    const meta = helper(collection.owner).__meta;
    if (!capture.replicates(meta.className)) continue;
    const image = { ...afterImage(em, collection.owner), [property.name]: collection.getIdentifiers() as Json };
    extra.push(toChange(meta, 'update', image, [property.name]));
  }
  if (extra.length === 0) return pending;
  const firstDelete = pending.findIndex((c) => c.op === 'delete');
  const at = firstDelete === -1 ? pending.length : firstDelete;
  return [...pending.slice(0, at), ...extra, ...pending.slice(at)];
}
