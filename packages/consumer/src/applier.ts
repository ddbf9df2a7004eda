import {
  type EntityManager,
  type EntityMetadata,
  type EntityProperty,
  type IDatabaseDriver,
  type MikroORM,
  type Platform,
  ReferenceKind,
  type Transaction,
  type TransformContext,
} from '@mikro-orm/core';
import { OUTBOX_ENTITY_NAMES, onPostgres, schemaFingerprint } from '@oplog/capture';
import { type Json, type OplogEntry, OplogError, type SchemaFingerprint } from '@oplog/protocol';
import { consumerEntities } from './cursor-store.js';
import { type OwnerSql, ownerSql } from './row-owner.js';

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
  /** After entries failed to apply: OPLOG_NOT_OWNER for the first row among them another source owns, if any. */
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
}

// MikroORM inlines the parameters into the SQL text today, so these limits only matter if it ever binds them:
// SQLite allows 32766 bound parameters per statement, PostgreSQL 65535.
const MAX_PARAMS = 32_766;
const MAX_ROWS = 1000;
// Shapes (sets of columns in an after-image) are few in practice; the cap only bounds what a bad peer can make us keep.
const MAX_CACHED_SHAPES = 64;
const WRITE: TransformContext = { mode: 'query-data' };

/** Turns the JSON value of one column into what the consumer's platform stores. */
type Convert = (value: Json) => unknown;
/** Appends the database values of one property (one per column) to `out`. */
type Write = (value: Json, out: unknown[]) => void;

export interface SqlStatement {
  sql: string;
  params: unknown[];
}

interface ColumnProp {
  name: string;
  primary: boolean;
  /** Quoted column names. */
  fields: string[];
  /** One placeholder per column; a custom type may wrap it in SQL. */
  placeholders: string[];
  /** A one-character id of this property in a shape key. */
  tag: string;
  write: Write;
}

interface PivotProp {
  name: string;
  table: string;
  ownerFields: string[];
  targetFields: string[];
  writeTarget: Write;
}

/** The upsert statement for one set of columns, in the order an after-image lists them. */
interface Shape {
  head: string;
  row: string;
  tail: string;
  maxRows: number;
  /** Which values of a row to keep, when two properties share a column; undefined keeps all. */
  pick: number[] | undefined;
}

interface EntityPlan {
  name: string;
  table: string;
  columns: Map<string, ColumnProp>;
  byTag: Map<string, ColumnProp>;
  pivots: Map<string, PivotProp>;
  pk: ColumnProp[];
  pkFields: string[];
  /** Without unique keys besides the primary key, only the last image of a row in a statement matters. */
  dedupe: boolean;
  shapes: Map<string, Shape>;
}

interface Row {
  key: string;
  pk: unknown[];
  shape: Shape;
  values: unknown[];
  pivots: [PivotProp, Json][];
}

/**
 * Replays oplog entries with SQL built only from the consumer's own metadata: inserts and updates become
 * upserts of the full after-image, deletes become deletes by primary key, so replaying twice changes nothing.
 */
export function createApplier(orm: MikroORM, options: ApplierOptions = {}): Applier {
  const driver: IDatabaseDriver = orm.em.getDriver();
  const owners = ownerSql(onPostgres(driver.getPlatform()));
  const plans = new Map<string, EntityPlan>();
  for (const meta of acceptedEntities(orm, options.entities)) plans.set(meta.className, planEntity(meta, driver));

  function planOf(entity: string): EntityPlan {
    const plan = plans.get(entity);
    if (!plan) throw OplogError.unknownEntity(entity);
    return plan;
  }

  function compile(entries: readonly OplogEntry[], { source, ignore, entities }: ApplyContext): SqlStatement[] {
    const out: SqlStatement[] = [];
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
      compileOwnership(owners, plan, group, source, remove, out);
      if (remove) compileDeletes(plan, group, out);
      else compileUpserts(plan, group, ignore?.get(plan.name), out);
      start = end;
    }
    return out;
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
      for (const entry of entries) {
        const plan = plans.get(entry.entity);
        if (plan) keys.set(plan.name, (keys.get(plan.name) ?? new Set()).add(rowKeyOf(plan, entry.pk)));
      }
      for (const [entity, set] of keys) {
        const [row] = await em
          .getConnection('write')
          .execute<{ pk: string; source: string }[]>(owners.foreignOwners, [entity, source, JSON.stringify([...set])]);
        if (row) return OplogError.notOwner(entity, row.pk, row.source);
      }
      return undefined;
    },
    rowKey(entity, pk) {
      return rowKeyOf(planOf(entity), pk);
    },
    keyToPk(entity, key) {
      const plan = planOf(entity);
      const parsed = JSON.parse(key) as Json;
      const values = plan.pk.length === 1 ? [parsed] : (parsed as Json[]);
      return Object.fromEntries(plan.pk.map((column, i) => [column.name, values[i] ?? null]));
    },
  };
}

/** The raw key values in primary key order, as JSON: the same text whichever source or platform sent them. */
function rowKeyOf(plan: EntityPlan, pk: Record<string, Json>): string {
  const [only] = plan.pk;
  if (plan.pk.length === 1 && only) return JSON.stringify(pk[only.name] ?? null);
  return JSON.stringify(plan.pk.map((column) => pk[column.name] ?? null));
}

/**
 * Claims this source's ownership of the rows, in the same transaction as the data (a row another source owns fails
 * the claim), and forgets the rows it deletes.
 */
function compileOwnership(
  sql: OwnerSql,
  plan: EntityPlan,
  entries: readonly OplogEntry[],
  source: string,
  remove: boolean,
  out: SqlStatement[],
): void {
  const params = [plan.name, source, JSON.stringify([...new Set(entries.map((entry) => rowKeyOf(plan, entry.pk)))])];
  out.push({ sql: sql.claim, params });
  if (remove) out.push({ sql: sql.release, params });
}

/** Parents first: an entity comes after every entity it references (many-to-one, owned one-to-one, owned pivots). */
function applyOrder(metas: readonly EntityMetadata[]): string[] {
  const names = new Set(metas.map((meta) => meta.className));
  const ordered: string[] = [];
  const visiting = new Set<string>();
  const visit = (meta: EntityMetadata) => {
    if (ordered.includes(meta.className) || visiting.has(meta.className)) return;
    visiting.add(meta.className);
    for (const prop of meta.relations) {
      const references =
        prop.kind === ReferenceKind.MANY_TO_ONE ||
        (prop.owner && (prop.kind === ReferenceKind.ONE_TO_ONE || prop.kind === ReferenceKind.MANY_TO_MANY));
      if (references && names.has(prop.targetMeta!.className) && prop.targetMeta!.className !== meta.className) {
        visit(prop.targetMeta!);
      }
    }
    ordered.push(meta.className);
  };
  for (const meta of metas) visit(meta);
  return ordered;
}

/** The consumer's bookkeeping (cursors, owners, credentials…): a source that could write it could forge them. */
const CONSUMER_ENTITY_NAMES: ReadonlySet<string> = new Set(consumerEntities.map((entity) => entity.meta.className));

function acceptedEntities(orm: MikroORM, names: readonly string[] | undefined): EntityMetadata[] {
  const all = Object.values(orm.getMetadata().getAll());
  const replayable = (meta: EntityMetadata) =>
    !meta.embeddable && !meta.virtual && !meta.pivotTable && !(meta.abstract && !meta.discriminatorColumn);
  const internal = (meta: EntityMetadata) =>
    OUTBOX_ENTITY_NAMES.has(meta.className) || CONSUMER_ENTITY_NAMES.has(meta.className);
  if (!names) return all.filter((meta) => replayable(meta) && !internal(meta));
  return names.map((name) => {
    const meta = all.find((m) => m.className === name);
    if (!meta || !replayable(meta)) throw new Error(`Applier: ${name} is not an entity with a table of its own`);
    return meta;
  });
}

function planEntity(meta: EntityMetadata, driver: IDatabaseDriver): EntityPlan {
  const platform = driver.getPlatform();
  const quote = (name: string) => platform.quoteIdentifier(name);
  const columns = new Map<string, ColumnProp>();
  const pivots = new Map<string, PivotProp>();
  for (const prop of meta.props) {
    if (prop.persist === false || prop.formula || (prop.generated && !prop.primary) || prop.embedded) continue;
    const where = `${meta.className}.${prop.name}`;
    switch (prop.kind) {
      case ReferenceKind.SCALAR:
      case ReferenceKind.MANY_TO_ONE:
      case ReferenceKind.ONE_TO_ONE: {
        if (prop.kind === ReferenceKind.ONE_TO_ONE && !prop.owner) break;
        const scalar = prop.kind === ReferenceKind.SCALAR;
        const converts = scalar ? [scalarConverter(where, prop, platform)] : keyConverters(prop.targetMeta!, platform);
        if (converts.length !== prop.fieldNames.length) throw unsupported(where, 'its columns do not match its key');
        const [convert] = converts;
        const sqlOf = scalar && prop.customType?.convertToDatabaseValueSQL?.bind(prop.customType);
        columns.set(prop.name, {
          name: prop.name,
          primary: !!prop.primary,
          fields: prop.fieldNames.map(quote),
          placeholders: prop.fieldNames.map(() => (sqlOf ? sqlOf('?', platform) : '?')),
          // Tags are characters from U+0100 on, so a shape key is one short string.
          tag: String.fromCharCode(0x100 + columns.size),
          write:
            scalar && convert
              ? (value, out) => out.push(value === null ? null : convert(value))
              : keyWriter(where, converts),
        });
        break;
      }
      case ReferenceKind.MANY_TO_MANY:
        if (prop.owner) pivots.set(prop.name, planPivot(meta, prop, driver));
        break;
      case ReferenceKind.EMBEDDED:
        throw unsupported(where, 'embedded properties are not replayed');
    }
  }
  const pk = meta.primaryKeys.map((name) => columns.get(name as string));
  if (!pk.every((column) => column !== undefined)) throw unsupported(meta.className, 'its primary key has no columns');
  const uniqueProp = (prop: EntityProperty) =>
    !prop.primary && (!!prop.unique || (prop.kind === ReferenceKind.ONE_TO_ONE && !!prop.owner));
  return {
    name: meta.className,
    table: tableName(meta, driver),
    columns,
    byTag: new Map([...columns.values()].map((column) => [column.tag, column])),
    pivots,
    pk,
    pkFields: pk.flatMap((column) => column.fields),
    dedupe: meta.uniques.length === 0 && !meta.props.some(uniqueProp),
    shapes: new Map(),
  };
}

function planPivot(meta: EntityMetadata, prop: EntityProperty, driver: IDatabaseDriver): PivotProp {
  const platform = driver.getPlatform();
  const where = `${meta.className}.${prop.name}`;
  const pivotMeta = driver.getMetadata().find(prop.pivotEntity);
  const ownerColumns = meta.getPrimaryProps().flatMap((p) => p.fieldNames);
  // The owner's key values are written in its primary key's column order; the pivot must reference them so.
  if (!pivotMeta || prop.referencedColumnNames.join() !== ownerColumns.join()) {
    throw unsupported(where, 'its pivot table does not reference the primary key in order');
  }
  const converts = keyConverters(prop.targetMeta!, platform);
  if (converts.length !== prop.inverseJoinColumns.length) throw unsupported(where, 'its pivot columns do not match');
  return {
    name: prop.name,
    table: tableName(pivotMeta, driver),
    ownerFields: prop.joinColumns.map((f) => platform.quoteIdentifier(f)),
    targetFields: prop.inverseJoinColumns.map((f) => platform.quoteIdentifier(f)),
    writeTarget: keyWriter(where, converts),
  };
}

function tableName(meta: EntityMetadata, driver: IDatabaseDriver): string {
  const platform = driver.getPlatform();
  const schema = driver.getSchemaName(meta);
  const name = schema && schema !== platform.getDefaultSchemaName() ? `${schema}.${meta.tableName}` : meta.tableName;
  return platform.quoteIdentifier(name);
}

/** The converters of an entity's primary key columns; a key that is itself a relation expands to that key's columns. */
function keyConverters(meta: EntityMetadata, platform: Platform): Convert[] {
  return meta
    .getPrimaryProps()
    .flatMap((prop) =>
      prop.kind === ReferenceKind.SCALAR
        ? [scalarConverter(`${meta.className}.${prop.name}`, prop, platform)]
        : keyConverters(prop.targetMeta!, platform),
    );
}

/**
 * After-images hold what capture's snapshot holds: each custom type already in its database form (on the
 * source's platform), and dates as epoch ms (SQLite source) or ISO strings (PostgreSQL source).
 */
function scalarConverter(where: string, prop: EntityProperty, platform: Platform): Convert {
  const type = prop.customType;
  if (prop.runtimeType === 'Date') {
    return (value) => {
      const date = typeof value === 'number' || typeof value === 'string' ? new Date(value) : undefined;
      if (!date || Number.isNaN(date.getTime())) throw badValue(where, value);
      // The platform formats a Date itself: epoch ms on SQLite, a timestamp literal on PostgreSQL.
      return type ? type.convertToDatabaseValue(date, platform, WRITE) : date;
    };
  }
  if (type) {
    // Reading the value back and writing it again moves it from the source's database form to ours; `force`
    // makes a JSON type parse the text even where the driver would parse JSON columns itself.
    return (value) => {
      const converted = type.convertToDatabaseValue(
        type.convertToJSValue(value, platform, { force: true }),
        platform,
        WRITE,
      );
      if (!isParam(converted)) throw badValue(where, value);
      return converted;
    };
  }
  if (prop.runtimeType === 'boolean') {
    const native = prop.columnTypes[0]?.toLowerCase().startsWith('bool');
    return (value) => {
      if (typeof value !== 'boolean' && value !== 0 && value !== 1) throw badValue(where, value);
      return native ? !!value : +value;
    };
  }
  return (value) => {
    if (typeof value === 'object') throw badValue(where, value);
    return value;
  };
}

/** What the platform can quote as one SQL value. */
function isParam(value: unknown): boolean {
  return typeof value !== 'object' || value === null || value instanceof Date || ArrayBuffer.isView(value);
}

/** Writes a key (a relation's, or a pivot target's): a scalar, or an array of one value per column, maybe nested. */
function keyWriter(where: string, converts: Convert[]): Write {
  const [only] = converts;
  if (converts.length === 1 && only) {
    return (value, out) => {
      const scalar = Array.isArray(value) && value.length === 1 ? value[0]! : value;
      out.push(scalar === null ? null : only(scalar));
    };
  }
  return (value, out) => {
    if (value === null) {
      for (let i = 0; i < converts.length; i++) out.push(null);
      return;
    }
    const parts = Array.isArray(value) ? ((value as unknown[]).flat(Number.POSITIVE_INFINITY) as Json[]) : [];
    if (parts.length !== converts.length) throw badValue(where, value);
    for (let i = 0; i < parts.length; i++) out.push(parts[i] === null ? null : converts[i]!(parts[i]!));
  };
}

function compileUpserts(
  plan: EntityPlan,
  entries: readonly OplogEntry[],
  ignore: ReadonlySet<string> | undefined,
  out: SqlStatement[],
): void {
  let rows: Row[] = [];
  let byKey = new Map<string, number>();
  const flush = () => {
    if (rows.length > 0) out.push(upsertStatement(rows));
    rows = [];
    byKey = new Map();
  };
  // Per pivot and owner, the last list of target keys: each list is complete, so the last one is the state.
  const lists = new Map<PivotProp, Map<string, { owner: unknown[]; targets: Json }>>();
  for (const entry of entries) {
    const row = readRow(plan, entry, ignore);
    if (rows.length > 0 && rows[0]!.shape !== row.shape) flush();
    const at = byKey.get(row.key);
    if (at !== undefined && plan.dedupe) {
      // PostgreSQL refuses to upsert one row twice in a statement; images are full, so the last one is enough.
      rows[at] = row;
    } else {
      // With other unique keys, an earlier image may be what frees a value for a later row: keep every step.
      if (at !== undefined || rows.length === row.shape.maxRows) flush();
      byKey.set(row.key, rows.length);
      rows.push(row);
    }
    for (const [pivot, targets] of row.pivots) {
      const owners = lists.get(pivot) ?? new Map();
      lists.set(pivot, owners.set(row.key, { owner: row.pk, targets }));
    }
  }
  flush();
  for (const [pivot, owners] of lists) compilePivot(pivot, [...owners.values()], out);
}

function readRow(plan: EntityPlan, entry: OplogEntry, ignore: ReadonlySet<string> | undefined): Row {
  const { after } = entry;
  if (!after) throw OplogError.badFrame(`entry ${entry.seq}: an ${entry.op} needs an after-image`);
  const pk = readKey(plan, entry);
  const values: unknown[] = [];
  let tags = '';
  const pivots: [PivotProp, Json][] = [];
  for (const name of Object.keys(after)) {
    if (ignore?.has(name)) continue;
    const value = after[name]!;
    const column = plan.columns.get(name);
    if (column) {
      if (column.primary && !sameJson(value, entry.pk[name]!)) {
        throw OplogError.badFrame(`entry ${entry.seq}: ${plan.name}.${name} differs between pk and after-image`);
      }
      column.write(value, values);
      tags += column.tag;
      continue;
    }
    const pivot = plan.pivots.get(name);
    if (!pivot) throw OplogError.unknownField(plan.name, name);
    pivots.push([pivot, value]);
  }
  for (const column of plan.pk) {
    if (Object.hasOwn(after, column.name)) continue;
    column.write(entry.pk[column.name]!, values);
    tags += column.tag;
  }
  return { key: keyOf(pk), pk, shape: shapeOf(plan, tags), values, pivots };
}

/** The converted primary key of an entry; its pk must name exactly the primary key properties. */
function readKey(plan: EntityPlan, entry: OplogEntry): unknown[] {
  const names = Object.keys(entry.pk);
  for (const name of names) {
    const column = plan.columns.get(name);
    if (!column) throw OplogError.unknownField(plan.name, name);
    if (!column.primary) throw OplogError.badFrame(`entry ${entry.seq}: ${plan.name}.${name} is not a primary key`);
  }
  const values: unknown[] = [];
  for (const column of plan.pk) {
    const value = entry.pk[column.name];
    if (value === undefined || value === null) {
      throw OplogError.badFrame(`entry ${entry.seq}: pk lacks ${plan.name}.${column.name}`);
    }
    column.write(value, values);
  }
  return values;
}

function shapeOf(plan: EntityPlan, tags: string): Shape {
  const cached = plan.shapes.get(tags);
  if (cached) return cached;
  const fields: string[] = [];
  const placeholders: string[] = [];
  const pick: number[] = [];
  let position = 0;
  for (const tag of tags) {
    const column = plan.byTag.get(tag)!;
    column.fields.forEach((field, i) => {
      if (!fields.includes(field)) {
        fields.push(field);
        placeholders.push(column.placeholders[i]!);
        pick.push(position);
      }
      position++;
    });
  }
  const updates = fields.filter((f) => !plan.pkFields.includes(f)).map((f) => `${f} = excluded.${f}`);
  const shape: Shape = {
    head: `insert into ${plan.table} (${fields.join(', ')}) values `,
    row: `(${placeholders.join(', ')})`,
    tail: ` on conflict (${plan.pkFields.join(', ')}) ${updates.length > 0 ? `do update set ${updates.join(', ')}` : 'do nothing'}`,
    maxRows: rowsPerStatement(fields.length),
    pick: pick.length === position ? undefined : pick,
  };
  if (plan.shapes.size < MAX_CACHED_SHAPES) plan.shapes.set(tags, shape);
  return shape;
}

function upsertStatement(rows: readonly Row[]): SqlStatement {
  const { shape } = rows[0]!;
  const params: unknown[] = [];
  for (const row of rows) {
    if (shape.pick) for (const i of shape.pick) params.push(row.values[i]);
    else for (const value of row.values) params.push(value);
  }
  return { sql: shape.head + Array(rows.length).fill(shape.row).join(', ') + shape.tail, params };
}

function compileDeletes(plan: EntityPlan, entries: readonly OplogEntry[], out: SqlStatement[]): void {
  const keys = new Map<string, unknown[]>();
  for (const entry of entries) {
    const pk = readKey(plan, entry);
    keys.set(keyOf(pk), pk);
  }
  for (const chunk of chunks([...keys.values()], rowsPerStatement(plan.pkFields.length))) {
    out.push({
      sql: `delete from ${plan.table} where ${matchKeys(plan.pkFields, chunk.length)}`,
      params: chunk.flat(),
    });
  }
}

/** Replaces the pivot rows of each owner with one row per target key. */
function compilePivot(pivot: PivotProp, owners: { owner: unknown[]; targets: Json }[], out: SqlStatement[]): void {
  for (const chunk of chunks(owners, rowsPerStatement(pivot.ownerFields.length))) {
    out.push({
      sql: `delete from ${pivot.table} where ${matchKeys(pivot.ownerFields, chunk.length)}`,
      params: chunk.flatMap(({ owner }) => owner),
    });
  }
  const rows: unknown[][] = [];
  for (const { owner, targets } of owners) {
    if (!Array.isArray(targets)) throw badValue(pivot.name, targets);
    const seen = new Set<string>();
    for (const target of targets) {
      const row = [...owner];
      pivot.writeTarget(target, row);
      const key = keyOf(row);
      if (seen.has(key)) continue;
      seen.add(key);
      rows.push(row);
    }
  }
  // Rows go in list order: a pivot with a fixed order numbers them with its autoincrement key.
  const fields = [...pivot.ownerFields, ...pivot.targetFields];
  const row = `(${fields.map(() => '?').join(', ')})`;
  for (const chunk of chunks(rows, rowsPerStatement(fields.length))) {
    out.push({
      sql: `insert into ${pivot.table} (${fields.join(', ')}) values ${Array(chunk.length).fill(row).join(', ')}`,
      params: chunk.flat(),
    });
  }
}

/** A condition matching rows whose `fields` equal one of `count` keys given as parameters. */
function matchKeys(fields: readonly string[], count: number): string {
  if (fields.length === 1) return `${fields[0]} in (${Array(count).fill('?').join(', ')})`;
  // Row values with IN need a VALUES subquery on SQLite, whose literals PostgreSQL would type as text.
  const one = `(${fields.map((f) => `${f} = ?`).join(' and ')})`;
  return Array(count).fill(one).join(' or ');
}

function rowsPerStatement(width: number): number {
  return Math.max(1, Math.min(MAX_ROWS, Math.floor(MAX_PARAMS / Math.max(1, width))));
}

function* chunks<T>(items: readonly T[], size: number): Generator<T[]> {
  for (let i = 0; i < items.length; i += size) yield items.slice(i, i + size);
}

/** Identifies a row by its converted key; Dates serialize with their milliseconds. */
function keyOf(values: readonly unknown[]): string {
  const [only] = values;
  return values.length === 1 && typeof only === 'string' ? only : JSON.stringify(values);
}

function sameJson(a: Json, b: Json): boolean {
  return a === b || (typeof a === 'object' && typeof b === 'object' && JSON.stringify(a) === JSON.stringify(b));
}

function badValue(where: string, value: Json): OplogError {
  // Never serialize a structure to describe it: a hostile value nested thousands deep would overflow the stack.
  const shown = typeof value === 'object' && value !== null ? (Array.isArray(value) ? 'an array' : 'an object') : value;
  return OplogError.badFrame(`${where}: cannot store ${JSON.stringify(shown).slice(0, 60)}`);
}

function unsupported(where: string, why: string): Error {
  return new Error(`Applier cannot replay ${where}: ${why}`);
}
