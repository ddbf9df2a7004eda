import {
  type EntityMetadata,
  type EntityProperty,
  type EntitySchema,
  type IDatabaseDriver,
  type MikroORM,
  type Platform,
  ReferenceKind,
  type TransformContext,
} from '@mikro-orm/core';
import { OUTBOX_ENTITY_NAMES } from '@oplog/capture';
import type { Json } from '@oplog/protocol';
import { badValue, type Canonical, keyCanonical } from './key-canonical.js';
import { replayEntities } from './tables.js';

const WRITE: TransformContext = { mode: 'query-data' };

/** Turns the JSON value of one column into what the consumer's platform stores. */
type Convert = (value: Json) => unknown;
/** Appends the database values of one property (one per column) to `out`. */
export type Write = (value: Json, out: unknown[]) => void;
/** A key's canonical parts, one per column (see Canonical): what names a row, whatever the spelling sent. */
export type KeyParts = (value: Json) => Json[];

export interface ColumnProp {
  name: string;
  primary: boolean;
  /** Quoted column names. */
  fields: string[];
  /** One placeholder per column; a custom type may wrap it in SQL. */
  placeholders: string[];
  /** A one-character id of this property in a shape key. */
  tag: string;
  write: Write;
  /** Primary keys and relations: the canonical parts of a (non-null) value. */
  keyParts: KeyParts | undefined;
  /** A relation: the entity whose row its value names. */
  references: string | undefined;
}

export interface PivotProp {
  name: string;
  table: string;
  ownerFields: string[];
  targetFields: string[];
  /** The entity the list's keys name. */
  target: string;
  targetParts: KeyParts;
  writeTarget: Write;
}

/** The upsert statement for one set of columns, in the order an after-image lists them. */
export interface Shape {
  head: string;
  row: string;
  tail: string;
  maxRows: number;
  /** Which values of a row to keep, when two properties share a column; undefined keeps all. */
  pick: number[] | undefined;
}

export interface EntityPlan {
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

/** The entities a consumer replays: the ones named, or every entity with a table of its own but ours. */
export function acceptedEntities(
  orm: MikroORM,
  names: readonly string[] | undefined,
  internal: readonly EntitySchema[] = [],
): EntityMetadata[] {
  const bookkeeping = new Set([...replayEntities, ...internal].map((entity) => entity.meta.className));
  const all = Object.values(orm.getMetadata().getAll());
  const replayable = (meta: EntityMetadata) =>
    !meta.embeddable && !meta.virtual && !meta.pivotTable && !(meta.abstract && !meta.discriminatorColumn);
  const isInternal = (meta: EntityMetadata) =>
    OUTBOX_ENTITY_NAMES.has(meta.className) || bookkeeping.has(meta.className);
  if (!names) return all.filter((meta) => replayable(meta) && !isInternal(meta));
  return names.map((name) => {
    const meta = all.find((m) => m.className === name);
    if (!meta || !replayable(meta)) throw new Error(`Applier: ${name} is not an entity with a table of its own`);
    return meta;
  });
}

/** Parents first: an entity comes after every entity it references (many-to-one, owned one-to-one, owned pivots). */
export function applyOrder(metas: readonly EntityMetadata[]): string[] {
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

export function planEntity(meta: EntityMetadata, driver: IDatabaseDriver): EntityPlan {
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
        const sqlOf = scalar && prop.customType?.convertToDatabaseValueSQL?.bind(prop.customType);
        const column = {
          name: prop.name,
          primary: !!prop.primary,
          fields: prop.fieldNames.map(quote),
          placeholders: prop.fieldNames.map(() => (sqlOf ? sqlOf('?', platform) : '?')),
          // Tags are characters from U+0100 on, so a shape key is one short string.
          tag: String.fromCharCode(0x100 + columns.size),
        };
        if (scalar) {
          const convert = scalarConverter(where, prop, platform);
          if (prop.fieldNames.length !== 1) throw unsupported(where, 'a scalar needs one column');
          if (!prop.primary) {
            const write: Write = (value, out) => out.push(value === null ? null : convert(value));
            columns.set(prop.name, { ...column, write, keyParts: undefined, references: undefined });
            break;
          }
          const canonical = keyCanonical(where, prop);
          columns.set(prop.name, {
            ...column,
            write: (value, out) => out.push(value === null ? null : convert(canonical(value))),
            keyParts: (value) => [canonical(value)],
            references: undefined,
          });
          break;
        }
        const key = keyOfEntity(where, prop.targetMeta!, platform);
        if (key.parts !== prop.fieldNames.length) throw unsupported(where, 'its columns do not match its key');
        columns.set(prop.name, { ...column, ...key, references: prop.targetMeta!.className });
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
  const key = keyOfEntity(where, prop.targetMeta!, platform);
  if (key.parts !== prop.inverseJoinColumns.length) throw unsupported(where, 'its pivot columns do not match');
  return {
    name: prop.name,
    table: tableName(pivotMeta, driver),
    ownerFields: prop.joinColumns.map((f) => platform.quoteIdentifier(f)),
    targetFields: prop.inverseJoinColumns.map((f) => platform.quoteIdentifier(f)),
    target: prop.targetMeta!.className,
    targetParts: key.keyParts,
    writeTarget: key.write,
  };
}

function tableName(meta: EntityMetadata, driver: IDatabaseDriver): string {
  const platform = driver.getPlatform();
  const schema = driver.getSchemaName(meta);
  const name = schema && schema !== platform.getDefaultSchemaName() ? `${schema}.${meta.tableName}` : meta.tableName;
  return platform.quoteIdentifier(name);
}

interface KeyColumn {
  canonical: Canonical;
  convert: Convert;
}

/** The columns of an entity's primary key; a key that is itself a relation expands to that key's columns. */
function keyColumns(meta: EntityMetadata, platform: Platform): KeyColumn[] {
  return meta.getPrimaryProps().flatMap((prop) => {
    if (prop.kind !== ReferenceKind.SCALAR) return keyColumns(prop.targetMeta!, platform);
    const where = `${meta.className}.${prop.name}`;
    return [{ canonical: keyCanonical(where, prop), convert: scalarConverter(where, prop, platform) }];
  });
}

/**
 * How a value naming a row of `meta` (a relation's, or a pivot target's) is read: a scalar, or an array of one value
 * per key column, maybe nested. Its canonical parts are that row's key as its own primary key gives it.
 */
function keyOfEntity(where: string, meta: EntityMetadata, platform: Platform) {
  const columns = keyColumns(meta, platform);
  const keyParts: KeyParts = (value) => {
    const parts = columns.length === 1 && !Array.isArray(value) ? [value] : Array.isArray(value) ? flatten(value) : [];
    if (parts.length !== columns.length || parts.some((part) => part === null)) throw badValue(where, value);
    return parts.map((part, i) => columns[i]!.canonical(part));
  };
  const write: Write = (value, out) => {
    if (value === null) {
      for (let i = 0; i < columns.length; i++) out.push(null);
      return;
    }
    const parts = keyParts(value);
    for (let i = 0; i < parts.length; i++) out.push(columns[i]!.convert(parts[i]!));
  };
  return { keyParts, write, parts: columns.length };
}

/** A composite key's values in column order; arrays nest when a key part is itself a relation. */
function flatten(value: readonly Json[]): Json[] {
  return value.flatMap((part) => (Array.isArray(part) ? flatten(part) : [part]));
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

function unsupported(where: string, why: string): Error {
  return new Error(`Applier cannot replay ${where}: ${why}`);
}
