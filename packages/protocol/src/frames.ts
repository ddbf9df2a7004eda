import { z } from 'zod';
import { type Json, type OplogEntry, oplogEntrySchema } from './entry.js';
import { ERRORS, type WireCode } from './error-codes.js';

const name = z.string().min(1).max(128);
const seq = z.number().int().nonnegative();
const epoch = z.number().int().nonnegative();

/** Where a source's log stands: its last seq and that entry's epoch (0 / 0 when empty). */
export const positionSchema = z.strictObject({ seq, epoch });
export type Position = z.infer<typeof positionSchema>;

/** Where the consumer stands for a source: its last applied seq, that entry's epoch and transaction (null when unknown). */
export const cursorPositionSchema = z.strictObject({ seq, epoch, txId: name.nullable() });

/** A row's primary key or image, by property name. */
const imageSchema = z.record(name, z.unknown() as z.ZodType<Json>);

/** For each replicated entity, its properties and their types. */
export const schemaFingerprintSchema = z.record(name, z.record(name, z.string().max(256)));
export type SchemaFingerprint = z.infer<typeof schemaFingerprintSchema>;

/** producer → consumer, first frame of every session. */
export const helloSchema = z.strictObject({
  type: z.literal('hello'),
  protocol: z.strictObject({ min: z.number().int().positive(), max: z.number().int().positive() }),
  source: name,
  incarnation: name,
  head: positionSchema,
  /**
   * The transaction of the entry at `head` (null for an empty log). A snapshot's cursor stores it, so that a source
   * later restored from a backup is told apart from the history the snapshot was taken of (protocol 3; optional so
   * that a producer of protocol 2 is still heard).
   */
  headTxId: name.nullable().optional(),
  /** The oldest seq the outbox still holds (head + 1 when it is empty): older ones were trimmed. */
  oldest: z.number().int().positive(),
  schema: schemaFingerprintSchema,
});

/** What the consumer asks the producer to send before the log: every row of these entities, in this order. */
export const snapshotRequestSchema = z.strictObject({
  entities: z.array(name).min(1),
  /** Where an interrupted snapshot resumes: the first entity continues after this primary key. */
  resume: z.strictObject({ entity: name, after: imageSchema }).nullable(),
});

/** consumer → producer: the durable cursor, where the producer resumes. */
export const welcomeSchema = z.strictObject({
  type: z.literal('welcome'),
  protocol: z.number().int().positive(),
  /** The incarnation the cursor belongs to; null when the consumer has never seen this source. */
  incarnation: name.nullable(),
  cursor: cursorPositionSchema,
  /** Set when the source must (re)send its rows first; the log then follows from `cursor`. */
  snapshot: snapshotRequestSchema.nullable(),
});

/**
 * producer → consumer: entries in seq order, ending on a transaction boundary, except that a transaction too big for
 * one frame goes out in parts: every part but its last is `partial`, and the consumer applies the transaction only
 * once it has all of it.
 */
export const batchSchema = z.strictObject({
  type: z.literal('batch'),
  id: z.number().int().positive(),
  entries: z.array(oplogEntrySchema as z.ZodType<OplogEntry>).min(1),
  partial: z.literal(true).optional(),
});

/**
 * producer → consumer while a snapshot is requested: one keyset page of one entity, read in one transaction with
 * the outbox head at that moment. Acked like a batch.
 */
export const snapshotSchema = z.strictObject({
  type: z.literal('snapshot'),
  id: z.number().int().positive(),
  entity: name,
  /** After-images, as capture records them, in primary key order. */
  rows: z.array(imageSchema).max(10_000),
  /** The primary key of the last row (where the next page starts); null for an empty page. */
  after: imageSchema.nullable(),
  /** The outbox head when the page was read: the consumer's view is consistent once the log passes it. */
  head: positionSchema,
  /** Rows still to send, this page's included, as counted when this session's snapshot began (for progress). */
  remaining: z.number().int().nonnegative(),
  /** This entity is complete. */
  done: z.boolean(),
});

/** consumer → producer: everything up to `seq` is durably applied (sent only after the commit). */
export const ackSchema = z.strictObject({
  type: z.literal('ack'),
  id: z.number().int().positive(),
  seq,
});

/** producer → consumer while idle or busy: lets the consumer know the lag without data flowing. */
export const heartbeatSchema = z.strictObject({
  type: z.literal('heartbeat'),
  head: positionSchema,
  at: epoch,
});

/**
 * local app → consumer over HTTP (`POST /api/head`), not a frame: the outbox head, so that the consumer knows how
 * far behind a source is while its producer is down.
 */
export const headReportSchema = z.strictObject({
  source: name,
  incarnation: name,
  head: positionSchema,
});
export type HeadReport = z.infer<typeof headReportSchema>;

/**
 * How long the consumer trusts a head report when no session of the source is open; past it, the head (and the lag)
 * is unknown. The reporter repeats an unchanged head at a third of this, so an idle app stays known.
 */
export const HEAD_REPORT_TTL_MS = 15_000;

/** Either direction, just before closing. */
export const errorSchema = z.strictObject({
  type: z.literal('error'),
  code: z.string().max(64),
  message: z.string().max(1024),
  retryable: z.boolean(),
});

export type Hello = z.infer<typeof helloSchema>;
export type Welcome = z.infer<typeof welcomeSchema>;
export type Batch = z.infer<typeof batchSchema>;
export type SnapshotPage = z.infer<typeof snapshotSchema>;
export type SnapshotRequest = z.infer<typeof snapshotRequestSchema>;
export type CursorPosition = z.infer<typeof cursorPositionSchema>;
export type Ack = z.infer<typeof ackSchema>;
export type Heartbeat = z.infer<typeof heartbeatSchema>;
export type ErrorFrame = z.infer<typeof errorSchema>;

/** What a producer may send; the consumer accepts nothing else. */
export const producerFrameSchema = z.discriminatedUnion('type', [
  helloSchema,
  batchSchema,
  snapshotSchema,
  heartbeatSchema,
  errorSchema,
]);
/** What a consumer may send; the producer accepts nothing else. */
export const consumerFrameSchema = z.discriminatedUnion('type', [welcomeSchema, ackSchema, errorSchema]);

export type ProducerFrame = z.infer<typeof producerFrameSchema>;
export type ConsumerFrame = z.infer<typeof consumerFrameSchema>;

export function errorFrame(code: WireCode, message: string): ErrorFrame {
  return { type: 'error', code, message: message.slice(0, 1024), retryable: ERRORS[code].retryable };
}
