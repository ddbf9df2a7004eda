import type { Json, OplogEntry } from './entry.js';
import { OPS } from './entry.js';
import { OplogError } from './errors.js';
import type { Batch } from './frames.js';

/**
 * Checks a parsed batch frame against exactly the rules of `batchSchema` (strict keys, names of 1–128 characters,
 * safe positive integers, delete ⇔ no after-image), by hand. Batches carry thousands of entries and are the only
 * frames on the hot path; zod spent ~5 µs per entry on them (more than JSON.parse), this check well under 1 µs.
 * Returns the value itself, not a copy. Every other frame still goes through zod.
 */
export function checkBatch(value: Record<string, unknown>): Batch {
  for (const key in value) {
    if (key !== 'type' && key !== 'id' && key !== 'entries' && key !== 'partial') {
      throw bad('frame', `Unrecognized key: "${key}"`);
    }
  }
  if (value.partial !== undefined && value.partial !== true) throw bad('partial', 'expected true or nothing');
  if (!isPositiveInt(value.id)) throw bad('id', 'expected a positive integer');
  const { entries } = value;
  if (!Array.isArray(entries)) throw bad('entries', 'expected array');
  if (entries.length === 0) throw bad('entries', 'expected at least one entry');
  for (let i = 0; i < entries.length; i++) checkEntry(entries[i], i);
  return value as unknown as Batch;
}

const ENTRY_KEYS: ReadonlySet<string> = new Set([
  'source',
  'incarnation',
  'seq',
  'txId',
  'epoch',
  'entity',
  'op',
  'pk',
  'after',
  'changed',
]);
const OP_SET: ReadonlySet<unknown> = new Set(OPS);

function checkEntry(entry: unknown, i: number): asserts entry is OplogEntry {
  if (!isObject(entry)) throw bad(`entries.${i}`, 'expected object');
  for (const key in entry) {
    if (!ENTRY_KEYS.has(key)) throw bad(`entries.${i}`, `Unrecognized key: "${key}"`);
  }
  const e = entry as Record<string, unknown>;
  for (const key of ['source', 'incarnation', 'txId', 'entity'] as const) {
    if (!isName(e[key])) throw bad(`entries.${i}.${key}`, 'expected a string of 1 to 128 characters');
  }
  if (!isPositiveInt(e.seq)) throw bad(`entries.${i}.seq`, 'expected a positive integer');
  if (!(Number.isSafeInteger(e.epoch) && (e.epoch as number) >= 0)) {
    throw bad(`entries.${i}.epoch`, 'expected a non-negative integer');
  }
  if (!OP_SET.has(e.op)) throw bad(`entries.${i}.op`, `expected one of ${OPS.join(', ')}`);
  checkRecord(e.pk, `entries.${i}.pk`);
  if (e.after !== undefined) checkRecord(e.after, `entries.${i}.after`);
  if (e.changed !== undefined) {
    if (!Array.isArray(e.changed)) throw bad(`entries.${i}.changed`, 'expected array');
    for (let j = 0; j < e.changed.length; j++) {
      if (!isName(e.changed[j])) throw bad(`entries.${i}.changed.${j}`, 'expected a string of 1 to 128 characters');
    }
  }
  if ((e.op === 'delete') !== (e.after === undefined)) {
    throw bad(`entries.${i}`, 'insert and update carry an after-image; delete does not');
  }
}

/** A record of names to JSON values: the values come from JSON.parse, so they are JSON already. */
function checkRecord(value: unknown, where: string): asserts value is Record<string, Json> {
  if (!isObject(value)) throw bad(where, 'expected record');
  for (const key in value) if (!isName(key)) throw bad(`${where}.${key}`, 'expected a key of 1 to 128 characters');
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isName(value: unknown): boolean {
  return typeof value === 'string' && value.length >= 1 && value.length <= 128;
}

function isPositiveInt(value: unknown): boolean {
  return Number.isSafeInteger(value) && (value as number) > 0;
}

function bad(where: string, message: string): OplogError {
  return OplogError.badFrame(`${where}: ${message}`);
}
