import { type Json, type OplogEntry, OplogError } from '@oplog/protocol';
import type { ColumnProp, EntityPlan, PivotProp, Shape } from './entity-plan.js';
import { badValue } from './key-canonical.js';
import type { SqlStatement } from './sql-script.js';

// MikroORM inlines the parameters into the SQL text today, so these limits only matter if it ever binds them:
// SQLite allows 32766 bound parameters per statement, PostgreSQL 65535.
const MAX_PARAMS = 32_766;
const MAX_ROWS = 1000;
// Shapes (sets of columns in an after-image) are few in practice; the cap only bounds what a bad peer can make us keep.
const MAX_CACHED_SHAPES = 64;

/** entity → the row keys that changes point at (relations, pivot lists): each must not belong to another source. */
export type References = Map<string, Set<string>>;

interface Row {
  key: string;
  pk: unknown[];
  shape: Shape;
  values: unknown[];
  pivots: [PivotProp, Json][];
}

/** A row's key text: its canonical key parts, a lone part bare (see Canonical). */
export function keyText(parts: readonly Json[]): string {
  return JSON.stringify(parts.length === 1 ? parts[0] : parts);
}

/** The canonical key of the row a primary key names; throws OPLOG_BAD_FRAME for a key that names none. */
export function rowKeyOf(plan: EntityPlan, pk: Record<string, Json>, where = plan.name): string {
  return keyText(plan.pk.flatMap((column) => keyPartsOf(column, pk[column.name], where)));
}

function keyPartsOf(column: ColumnProp, value: Json | undefined, where: string): Json[] {
  if (value === undefined || value === null) throw OplogError.badFrame(`${where}: pk lacks ${column.name}`);
  return column.keyParts!(value);
}

/** The primary key a row key stands for (the inverse of rowKeyOf). */
export function pkOfKey(plan: EntityPlan, key: string): Record<string, Json> {
  const parsed = JSON.parse(key) as Json;
  const parts = plan.pkFields.length === 1 ? [parsed] : (parsed as Json[]);
  let at = 0;
  return Object.fromEntries(
    plan.pk.map((column) => {
      const width = column.fields.length;
      const value = width === 1 ? (parts[at] ?? null) : parts.slice(at, at + width);
      at += width;
      return [column.name, value];
    }),
  );
}

/** Upserts of full after-images; returns the keys of the rows written, and adds the rows they point at to `refs`. */
export function compileUpserts(
  plan: EntityPlan,
  entries: readonly OplogEntry[],
  ignore: ReadonlySet<string> | undefined,
  refs: References,
  out: SqlStatement[],
): string[] {
  let rows: Row[] = [];
  let byKey = new Map<string, number>();
  const keys: string[] = [];
  const flush = () => {
    if (rows.length > 0) out.push(upsertStatement(rows));
    rows = [];
    byKey = new Map();
  };
  // Per pivot and owner, the last list of target keys: each list is complete, so the last one is the state.
  const lists = new Map<PivotProp, Map<string, { owner: unknown[]; targets: Json }>>();
  for (const entry of entries) {
    const row = readRow(plan, entry, ignore, refs);
    keys.push(row.key);
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
  for (const [pivot, owners] of lists) compilePivot(pivot, [...owners.values()], refs, out);
  return keys;
}

function readRow(plan: EntityPlan, entry: OplogEntry, ignore: ReadonlySet<string> | undefined, refs: References): Row {
  const { after } = entry;
  if (!after) throw OplogError.badFrame(`entry ${entry.seq}: an ${entry.op} needs an after-image`);
  const { key, values: pk } = readKey(plan, entry);
  const values: unknown[] = [];
  let tags = '';
  const pivots: [PivotProp, Json][] = [];
  for (const name of Object.keys(after)) {
    if (ignore?.has(name)) continue;
    const value = after[name]!;
    const column = plan.columns.get(name);
    if (column) {
      if (column.primary && keyText(column.keyParts!(value)) !== keyText(column.keyParts!(entry.pk[name]!))) {
        throw OplogError.badFrame(`entry ${entry.seq}: ${plan.name}.${name} differs between pk and after-image`);
      }
      column.write(value, values);
      tags += column.tag;
      if (column.references && value !== null) addRef(refs, column.references, keyText(column.keyParts!(value)));
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
  return { key, pk, shape: shapeOf(plan, tags), values, pivots };
}

/** The row key and converted primary key of an entry; its pk must name exactly the primary key properties. */
function readKey(plan: EntityPlan, entry: OplogEntry): { key: string; values: unknown[] } {
  for (const name of Object.keys(entry.pk)) {
    const column = plan.columns.get(name);
    if (!column) throw OplogError.unknownField(plan.name, name);
    if (!column.primary) throw OplogError.badFrame(`entry ${entry.seq}: ${plan.name}.${name} is not a primary key`);
  }
  const key = rowKeyOf(plan, entry.pk, `entry ${entry.seq}: ${plan.name}`);
  const values: unknown[] = [];
  for (const column of plan.pk) column.write(entry.pk[column.name]!, values);
  return { key, values };
}

function addRef(refs: References, entity: string, key: string): void {
  const keys = refs.get(entity);
  if (keys) keys.add(key);
  else refs.set(entity, new Set([key]));
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

/** Deletes by primary key; returns the keys of the rows deleted. */
export function compileDeletes(plan: EntityPlan, entries: readonly OplogEntry[], out: SqlStatement[]): string[] {
  const keys = new Map<string, unknown[]>();
  for (const entry of entries) {
    const { key, values } = readKey(plan, entry);
    keys.set(key, values);
  }
  for (const chunk of chunks([...keys.values()], rowsPerStatement(plan.pkFields.length))) {
    out.push({
      sql: `delete from ${plan.table} where ${matchKeys(plan.pkFields, chunk.length)}`,
      params: chunk.flat(),
    });
  }
  return [...keys.keys()];
}

/** Replaces the pivot rows of each owner with one row per target key. */
function compilePivot(
  pivot: PivotProp,
  owners: { owner: unknown[]; targets: Json }[],
  refs: References,
  out: SqlStatement[],
): void {
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
      const key = keyText(pivot.targetParts(target));
      if (seen.has(key)) continue;
      seen.add(key);
      addRef(refs, pivot.target, key);
      const row = [...owner];
      pivot.writeTarget(target, row);
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
