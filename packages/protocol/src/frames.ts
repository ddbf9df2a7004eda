import { z } from 'zod';
import { type OplogEntry, oplogEntrySchema } from './entry.js';
import { ERRORS, type ErrorCode } from './errors.js';

const name = z.string().min(1).max(128);
const seq = z.number().int().nonnegative();
const epoch = z.number().int().nonnegative();

/** Where a source's log stands: its last seq and that entry's epoch (0 / 0 when empty). */
export const positionSchema = z.strictObject({ seq, epoch });
export type Position = z.infer<typeof positionSchema>;

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
  schema: schemaFingerprintSchema,
});

/** consumer → producer: the durable cursor, where the producer resumes. */
export const welcomeSchema = z.strictObject({
  type: z.literal('welcome'),
  protocol: z.number().int().positive(),
  /** The incarnation the cursor belongs to; null when the consumer has never seen this source. */
  incarnation: name.nullable(),
  cursor: positionSchema,
});

/** producer → consumer: whole source transactions, in seq order. */
export const batchSchema = z.strictObject({
  type: z.literal('batch'),
  id: z.number().int().positive(),
  entries: z.array(oplogEntrySchema as z.ZodType<OplogEntry>).min(1),
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
export type Ack = z.infer<typeof ackSchema>;
export type Heartbeat = z.infer<typeof heartbeatSchema>;
export type ErrorFrame = z.infer<typeof errorSchema>;

/** What a producer may send; the consumer accepts nothing else. */
export const producerFrameSchema = z.discriminatedUnion('type', [
  helloSchema,
  batchSchema,
  heartbeatSchema,
  errorSchema,
]);
/** What a consumer may send; the producer accepts nothing else. */
export const consumerFrameSchema = z.discriminatedUnion('type', [welcomeSchema, ackSchema, errorSchema]);

export type ProducerFrame = z.infer<typeof producerFrameSchema>;
export type ConsumerFrame = z.infer<typeof consumerFrameSchema>;

export function errorFrame(code: ErrorCode, message: string): ErrorFrame {
  return { type: 'error', code, message: message.slice(0, 1024), retryable: ERRORS[code].retryable };
}
