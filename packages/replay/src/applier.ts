import type { EntityManager, EntitySchema, IDatabaseDriver, MikroORM, Transaction } from '@mikro-orm/core';
import { onPostgres, schemaFingerprint } from '@oplog/capture';
import { type Json, type OplogEntry, OplogError, type SchemaFingerprint } from '@oplog/protocol';
import { compileDeletes, compileUpserts, pkOfKey, type References, rowKeyOf } from './apply-sql.js';
import { acceptedEntities, applyOrder, type EntityPlan, planEntity } from './entity-plan.js';
import { ownerSql } from './row-owner.js';
import type { SqlStatement } from './sql-script.js';

/** Whose entries these are, and which of their fields to leave out (schemaPolicy apply-known). */
export interface ApplyContext {
  source: string;
  /** entity → fields the consumer does not apply. */
  ignore?: ReadonlyMap<string, ReadonlySet<string>>;
  /** The entities the source declared in its hello: entries of any other are refused like unknown ones. */
  entities?: ReadonlySet<string>;
}

export interface Applier {
  /** The accepted entities, parents before the entities that reference them (the order a full state is written in). */
  readonly entities: readonly string[];
  /** The consumer's own fingerprint of the accepted entities, to compare with a source's. */
  readonly fingerprint: SchemaFingerprint;
  /**
   * The statements that apply already-admitted entries (in seq order, gapless, whole transactions) and record which
   * source owns each row. Everything is checked and converted first, so entries refused by their content throw here,
   * before anything is written. A row another source owns makes a statement fail (see `foreignOwner`).
   */
  statements(entries: readonly OplogEntry[], context: ApplyContext): SqlStatement[];
  /** Runs `statements` inside `trx`. Throws on any failure; the caller rolls back. */
  apply(em: EntityManager, trx: Transaction, entries: readonly OplogEntry[], context: ApplyContext): Promise<void>;
  /** Checks and converts entries without writing anything: throws what `statements` would throw for their content. */
  validate(entries: readonly OplogEntry[], context: ApplyContext): void;
  /**
   * After entries failed to apply: OPLOG_NOT_OWNER for the first row among them another source owns, or else for the
   * first row of another source they point at (a relation, a pivot list), if any.
   */
  foreignOwner(
    em: EntityManager,
    entries: readonly OplogEntry[],
    context: ApplyContext,
  ): Promise<OplogError | undefined>;
  /** A primary key's canonical text: how ownership and staging identify a row. */
  rowKey(entity: string, pk: Record<string, Json>): string;
  /** The primary key a `rowKey` stands for. */
  keyToPk(entity: string, key: string): Record<string, Json>;
}

export interface ApplierOptions {
  /** Entity names to accept. Default: every entity of the ORM except pivot tables, the outbox's and the consumer's own. */
  entities?: readonly string[];
  /**
   * Entities whose rows any source may point at (shared reference data). By default a change may only point at rows
   * of its own source, so that no source can keep another's row from being deleted.
   */
  shared?: readonly string[];
  /**
   * The caller's own bookkeeping entities (credentials, lag samples…), never replayed, like the replay's own tables:
   * a source that could write them could forge them.
   */
  internal?: readonly EntitySchema[];
}

/**
 * Replays oplog entries with SQL built only from the consumer's own metadata: inserts and updates become
 * upserts of the full after-image, deletes become deletes by primary key, so replaying twice changes nothing.
 */
export function createApplier(orm: MikroORM, options: ApplierOptions = {}): Applier {
  const driver: IDatabaseDriver = orm.em.getDriver();
  const owners = ownerSql(onPostgres(driver.getPlatform()));
  const plans = new Map<string, EntityPlan>();
  for (const meta of acceptedEntities(orm, options.entities, options.internal))
    plans.set(meta.className, planEntity(meta, driver));
  const shared = new Set(options.shared ?? []);
  for (const name of shared) if (!plans.has(name)) throw new Error(`Applier: shared entity ${name} is not replayed`);

  function planOf(entity: string): EntityPlan {
    const plan = plans.get(entity);
    if (!plan) throw OplogError.unknownEntity(entity);
    return plan;
  }

  /** The rows changes point at that must be this source's own: shared entities and tables we do not replay aside. */
  function ownedReferences(refs: References): [string, string[]][] {
    return [...refs].filter(([entity]) => plans.has(entity) && !shared.has(entity)).map(([e, k]) => [e, [...k]]);
  }

  function compile(entries: readonly OplogEntry[], { source, ignore, entities }: ApplyContext): SqlStatement[] {
    const out: SqlStatement[] = [];
    const refs: References = new Map();
    let start = 0;
    while (start < entries.length) {
      const first = entries[start]!;
      if (entities && !entities.has(first.entity)) throw OplogError.unknownEntity(first.entity);
      const plan = planOf(first.entity);
      const remove = first.op === 'delete';
      let end = start + 1;
      while (
        end < entries.length &&
        entries[end]!.entity === first.entity &&
        (entries[end]!.op === 'delete') === remove
      ) {
        end++;
      }
      const group = entries.slice(start, end);
      const at = out.length;
      const keys = remove
        ? compileDeletes(plan, group, out)
        : compileUpserts(plan, group, ignore?.get(plan.name), refs, out);
      // Claims this source's ownership before the data, in the same transaction: a row another source owns fails it.
      const params = [plan.name, source, JSON.stringify([...new Set(keys)])];
      out.splice(at, 0, { sql: owners.claim, params }, ...(remove ? [{ sql: owners.release, params }] : []));
      start = end;
    }
    // Last, so that on PostgreSQL each check reads rows committed while this step's foreign keys waited for them.
    for (const [entity, keys] of ownedReferences(refs)) {
      out.push({ sql: owners.refer, params: [entity, source, JSON.stringify(keys)] });
    }
    return out;
  }

  /** The first of `keys` of `entity` another source owns. */
  async function ownerOther(em: EntityManager, entity: string, source: string, keys: readonly string[]) {
    const [row] = await em
      .getConnection('write')
      .execute<{ pk: string; source: string }[]>(owners.foreignOwners, [entity, source, JSON.stringify(keys)]);
    return row;
  }

  return {
    entities: applyOrder([...plans.keys()].map((name) => orm.getMetadata().get(name))),
    fingerprint: schemaFingerprint(orm.getMetadata(), (name) => plans.has(name)),
    statements: compile,
    async apply(em, trx, entries, context) {
      const connection = em.getConnection('write');
      for (const { sql, params } of compile(entries, context)) {
        try {
          await connection.execute(sql, params, 'run', trx);
        } catch (error) {
          throw driver.convertException(error as Error);
        }
      }
    },
    validate(entries, context) {
      compile(entries, context);
    },
    async foreignOwner(em, entries, { source }) {
      const keys = new Map<string, Set<string>>();
      const refs: References = new Map();
      for (const entry of entries) {
        const plan = plans.get(entry.entity);
        if (!plan) continue;
        keys.set(plan.name, (keys.get(plan.name) ?? new Set()).add(rowKeyOf(plan, entry.pk)));
        if (entry.after) compileUpserts(plan, [entry], undefined, refs, []);
      }
      for (const [entity, set] of keys) {
        const row = await ownerOther(em, entity, source, [...set]);
        if (row) return OplogError.notOwner(entity, row.pk, row.source);
      }
      for (const [entity, targets] of ownedReferences(refs)) {
        const row = await ownerOther(em, entity, source, targets);
        if (!row) continue;
        const child = entries.find((entry) => referencesKey(entry, entity, row.pk));
        const from = child ? `${child.entity} ${rowKeyOf(plans.get(child.entity)!, child.pk)}` : 'a change';
        return OplogError.foreignReference(from, entity, row.pk, row.source);
      }
      return undefined;
    },
    rowKey(entity, pk) {
      return rowKeyOf(planOf(entity), pk);
    },
    keyToPk(entity, key) {
      return pkOfKey(planOf(entity), key);
    },
  };

  /** Whether an entry's after-image points at the row `key` of `entity`. */
  function referencesKey(entry: OplogEntry, entity: string, key: string): boolean {
    const plan = plans.get(entry.entity);
    if (!plan || !entry.after) return false;
    const refs: References = new Map();
    compileUpserts(plan, [entry], undefined, refs, []);
    return refs.get(entity)?.has(key) ?? false;
  }
}
