import { isLoopback } from '@oplog/dashboard';
import { type ConfigOption, DB_OPTIONS, dbConfigSchema, existingFile, withAppModules } from '@oplog/runtime';
import { z } from 'zod';

/** Every key oplog-consumer reads, from --config FILE, OPLOG_* env vars and flags (in rising precedence). */
export const consumerSettings = z.strictObject({
  listen: z
    .strictObject({
      host: z.string().default('127.0.0.1'),
      port: z.number().int().min(0).max(65535).default(7420),
      path: z.string().startsWith('/').default('/oplog'),
    })
    .prefault({}),
  db: dbConfigSchema.prefault({}),
  /** The module exporting the replicated entities (the same definitions the local app uses); or use ormConfig. */
  entities: z.string().min(1).optional(),
  /**
   * The app's MikroORM config module: its options apply (naming strategy, driver options, connection…) and its
   * entities are the replicated ones; db.* settings, when given, override its connection.
   */
  ormConfig: z.string().min(1).optional(),
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
  tls: z.strictObject({ cert: existingFile(), key: existingFile() }).optional(),
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
});

/** The consumer's config: its settings, and the rules between them. */
export const consumerConfigSchema = withAppModules(consumerSettings, { required: true }).superRefine((config, ctx) => {
  if (!isLoopback(config.listen.host) && config.dashboard.token === undefined && !config.dashboard.public) {
    ctx.addIssue({
      code: 'custom',
      path: ['dashboard', 'token'],
      message: `listen.host ${config.listen.host} is beyond loopback: set dashboard.token (OPLOG_DASHBOARD__TOKEN or --dashboard-token), or dashboard.public (OPLOG_DASHBOARD__PUBLIC=true) to serve the dashboard and /metrics openly`,
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

/** What the commands besides start read (sources, schema sql): the same config, of which they need the database. */
export const commandConfigSchema = withAppModules(consumerSettings, { required: false });

/** The flags of every command that opens the central database (start, sources). */
export const DATABASE_OPTIONS: readonly ConfigOption[] = [
  ...DB_OPTIONS,
  {
    flags: '--schema <mode>',
    path: 'schema',
    description:
      'update creates missing tables and columns at start; none leaves them to your migrations (see schema sql)',
  },
];

/** The flags of `oplog-consumer start`, besides the database's. */
export const START_OPTIONS: readonly ConfigOption[] = [
  { flags: '--host <host>', path: 'listen.host', description: 'address to listen on' },
  { flags: '--port <port>', path: 'listen.port', description: 'port to listen on, 0 for any free one' },
  {
    flags: '--entities <module>',
    path: 'entities',
    description: 'the compiled module exporting the replicated entities; required unless --orm-config is given',
  },
  { flags: '--auth <mode>', path: 'auth', description: 'none also admits producers without a credential, on loopback' },
  { flags: '--schema-policy <policy>', path: 'schemaPolicy', description: "when a source's entities differ from ours" },
  { flags: '--tls-cert <file>', path: 'tls.cert', description: 'serve wss:// and https with this PEM certificate' },
  { flags: '--tls-key <file>', path: 'tls.key', description: 'and this PEM key' },
  {
    flags: '--dashboard-token <token>',
    path: 'dashboard.token',
    description:
      'read access to the dashboard and /metrics, required beyond loopback (the variable keeps it out of ps)',
  },
];
