import { isLoopback } from '@oplog/dashboard';
import { dbConfigSchema } from '@oplog/runtime';
import { z } from 'zod';

/** Everything oplog-consumer reads, from --config FILE, OPLOG_* env vars and flags (in rising precedence). */
export const consumerConfigSchema = z
  .strictObject({
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
    /**
     * A source whose replicated entities differ from ours in fields or types: `refuse` it (default), or
     * `apply-known`: apply the fields both sides share and report the rest.
     */
    schemaPolicy: z.enum(['refuse', 'apply-known']).default('refuse'),
    /**
     * A source transaction this database refuses (a constraint violation, a row of another source): `halt` the
     * source until the cause is fixed (default), or `quarantine` it in oplog_quarantine and go on.
     */
    poison: z.enum(['halt', 'quarantine']).default('halt'),
    /**
     * Entities whose rows any source may point at (shared reference data). By default a change may only point at
     * rows of its own source (OPLOG_NOT_OWNER otherwise).
     */
    sharedEntities: z.array(z.string().min(1)).default([]),
    /** `credentials`: producers need a source credential (`sources add`). `none`: anonymous ones too, loopback only. */
    auth: z.enum(['credentials', 'none']).default('credentials'),
    /** How often connected sources' credentials are re-read; a revoked or expired one closes its session. */
    credentialCheckMs: z.number().int().positive().default(2000),
    /** Serve https / wss with these PEM files. */
    tls: z.strictObject({ cert: z.string().min(1), key: z.string().min(1) }).optional(),
    maxPayload: z
      .number()
      .int()
      .min(1024)
      .default(4 << 20),
    maxConnections: z.number().int().positive().default(1000),
    /** Entries per batch frame; a bigger one is refused (OPLOG_BATCH_TOO_BIG). */
    maxBatchEntries: z.number().int().positive().default(10_000),
    /** Entries applied per second per source; a faster source is slowed down (never dropped). Default: no limit. */
    maxEntriesPerSecond: z.number().positive().optional(),
    /** An HTTP request, the WebSocket upgrade included, must arrive whole within this long (slowloris). */
    requestTimeoutMs: z.number().int().positive().default(10_000),
    peerTimeoutMs: z.number().int().positive().default(10_000),
    /** The lag dashboard, its API and /metrics, served on the listen port. */
    dashboard: z
      .strictObject({
        /** Read access (?token= once, then a cookie; or Authorization: Bearer). Required beyond loopback. */
        token: z.string().min(16).optional(),
        /** Serve without a token even beyond loopback (behind your own authenticating proxy). */
        public: z.boolean().default(false),
        /** How often each source's lag is recorded for the chart; an hour of samples is kept. */
        sampleMs: z.number().int().min(100).default(5000),
      })
      .prefault({}),
  })
  .superRefine((config, ctx) => {
    if (!isLoopback(config.listen.host) && config.dashboard.token === undefined && !config.dashboard.public) {
      ctx.addIssue({
        code: 'custom',
        path: ['dashboard', 'token'],
        message: `listen.host ${config.listen.host} is beyond loopback: set dashboard.token (OPLOG_DASHBOARD__TOKEN), or dashboard.public: true to serve the dashboard and /metrics openly`,
      });
    }
    if (!isLoopback(config.listen.host) && config.auth === 'none') {
      ctx.addIssue({
        code: 'custom',
        path: ['auth'],
        message: `listen.host ${config.listen.host} is beyond loopback: auth 'none' would let any producer in; create credentials with \`oplog-consumer sources add\``,
      });
    }
  });

export type ConsumerConfig = z.infer<typeof consumerConfigSchema>;
