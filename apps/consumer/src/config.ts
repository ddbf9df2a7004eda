import { dbConfigSchema } from '@oplog/runtime';
import { z } from 'zod';

/** Everything oplog-consumer reads, from --config FILE, OPLOG_* env vars and flags (in rising precedence). */
export const consumerConfigSchema = z.strictObject({
  listen: z
    .strictObject({
      host: z.string().default('127.0.0.1'),
      port: z.number().int().min(0).max(65535).default(7420),
      path: z.string().startsWith('/').default('/oplog'),
    })
    .prefault({}),
  db: dbConfigSchema.prefault({}),
  /** The module exporting the replicated entities (the same definitions the local app uses). */
  entities: z.string().min(1),
  /** `update` creates missing tables and columns at start (never drops); `none` leaves the schema to migrations. */
  schema: z.enum(['update', 'none']).default('update'),
  /** sourceId → token; without it any source may connect (trusted networks only). */
  tokens: z.record(z.string(), z.string().min(16)).optional(),
  maxPayload: z
    .number()
    .int()
    .min(1024)
    .default(4 << 20),
  maxConnections: z.number().int().positive().default(1000),
  peerTimeoutMs: z.number().int().positive().default(10_000),
});

export type ConsumerConfig = z.infer<typeof consumerConfigSchema>;
