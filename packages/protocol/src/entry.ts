import { z } from 'zod';

/** A JSON scalar, array or object: what an after-image or a primary key may hold. */
export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

export const OPS = ['insert', 'update', 'delete'] as const;
export type Op = (typeof OPS)[number];

/**
 * One captured change. Every side shares this shape: capture writes it, the producer streams it,
 * the consumer replays it.
 */
export interface OplogEntry {
  /** The source database this change was made in. */
  source: string;
  /** Changes whenever the source's outbox state is recreated (for example, restored from a backup). */
  incarnation: string;
  /** Per source and incarnation: starts at 1, gapless, in commit order. */
  seq: number;
  /** Groups every entry of one source transaction; a batch never splits a transaction. */
  txId: string;
  /** Milliseconds since the Unix epoch at which the change was sequenced inside its transaction. */
  epoch: number;
  /** The entity name, as the ORM metadata knows it (never a table name). */
  entity: string;
  op: Op;
  /** Primary key by property name. */
  pk: Record<string, Json>;
  /** The full after-image by property name, for insert and update, so replay is idempotent. */
  after?: Record<string, Json>;
  /** The properties an update changed. */
  changed?: string[];
}

// Frames come from JSON.parse, so any value is JSON already: checking each value's shape again would only cost time.
const json = z.unknown() as z.ZodType<Json>;
const name = z.string().min(1).max(128);

export const oplogEntrySchema = z
  .strictObject({
    source: name,
    incarnation: name,
    seq: z.number().int().positive(),
    txId: name,
    epoch: z.number().int().nonnegative(),
    entity: name,
    op: z.enum(OPS),
    pk: z.record(name, json),
    after: z.record(name, json).optional(),
    changed: z.array(name).optional(),
  })
  .refine((e) => (e.op === 'delete') === (e.after === undefined), {
    message: 'insert and update carry an after-image; delete does not',
  }) satisfies z.ZodType<OplogEntry>;
