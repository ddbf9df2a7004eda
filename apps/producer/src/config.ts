import { isSourceToken } from '@oplog/protocol';
import {
  CLI_ENV_NAMES,
  type ConfigOption,
  type ConfigSources,
  DB_OPTIONS,
  dbConfigSchema,
  existingFile,
  withAppModules,
} from '@oplog/runtime';
import { z } from 'zod';

/** Everything oplog-producer reads, from --config FILE, OPLOG_* env vars and flags (in rising precedence). */
export const producerSettings = z.strictObject({
  /** The consumer's endpoint, ws:// or wss://. */
  url: z.url({
    protocol: /^wss?$/,
    error: "expected the consumer's ws:// or wss:// URL, such as ws://central.example:7420/oplog",
  }),
  /** This source's credential, as `oplog-consumer sources add` printed it; its source id is the source's identity. */
  token: z
    .string()
    .refine(isSourceToken, 'expected <sourceId>.<secret>, as `oplog-consumer sources add` prints it')
    .optional(),
  /** wss: a CA certificate (PEM file) to trust besides the system's; certificates are always verified. */
  tls: z.strictObject({ ca: existingFile().optional() }).prefault({}),
  /** The local app's database (the producer only reads and trims the outbox). */
  db: dbConfigSchema.prefault({}),
  /** The module exporting the app's entities (for the schema fingerprint and snapshots); or use ormConfig. */
  entities: z.string().min(1).optional(),
  /**
   * The app's MikroORM config module: its options and entities apply (naming strategy, driver options,
   * connection…); db.* settings, when given, override its connection.
   */
  ormConfig: z.string().min(1).optional(),
  include: z.array(z.string()).optional(),
  exclude: z.array(z.string()).optional(),
  batch: z
    .strictObject({
      maxEntries: z.number().int().positive().default(1000),
      maxBytes: z
        .number()
        .int()
        .positive()
        .default(1 << 20),
    })
    .prefault({}),
  /** Frames (batches or snapshot pages) and bytes sent but not yet acked, at most. */
  window: z
    .strictObject({
      frames: z.number().int().positive().default(8),
      bytes: z
        .number()
        .int()
        .positive()
        .default(8 << 20),
    })
    .prefault({}),
  retainAcked: z.number().int().nonnegative().default(0),
  pollMs: z.number().int().positive().default(500),
  heartbeatMs: z.number().int().positive().default(1000),
  peerTimeoutMs: z.number().int().positive().default(10_000),
  /** Reconnecting: exponential from initialMs up to maxMs, with jitter. */
  backoff: z
    .strictObject({
      initialMs: z.number().int().positive().default(100),
      maxMs: z.number().int().positive().default(30_000),
    })
    .prefault({}),
  /** Serves /status (read by `oplog-producer status`) and /metrics when a port is set; loopback by default. */
  status: z
    .strictObject({
      host: z.string().default('127.0.0.1'),
      port: z.number().int().min(0).max(65535).optional(),
    })
    .prefault({}),
});

/** The producer's config: its settings, and the rules between them. */
export const producerConfigSchema = withAppModules(producerSettings, { required: true });

export type ProducerConfig = z.infer<typeof producerConfigSchema>;

/**
 * What the commands besides start read (status, schema sql): the same config, none of whose keys they require
 * (status needs only the status address, schema sql the database).
 */
export const commandConfigSchema = withAppModules(
  producerSettings.extend({ url: producerSettings.shape.url.optional() }),
  {
    required: false,
  },
);

/** The flags of `oplog-producer start`. */
export const START_OPTIONS: readonly ConfigOption[] = [
  { flags: '--url <url>', path: 'url', description: "the consumer's endpoint, ws:// or wss://; required" },
  {
    flags: '--token <token>',
    path: 'token',
    description: "this source's credential, as oplog-consumer sources add printed it (the variable keeps it out of ps)",
  },
  {
    flags: '--tls-ca <file>',
    path: 'tls.ca',
    description: 'trust this CA (PEM) for a wss:// consumer, besides the system CAs',
  },
  ...DB_OPTIONS,
  {
    flags: '--entities <module>',
    path: 'entities',
    description: "the compiled module exporting the app's entities; required unless --orm-config is given",
  },
  { flags: '--retain-acked <n>', path: 'retainAcked', description: 'acked entries to keep before trimming' },
  { flags: '--poll-ms <ms>', path: 'pollMs', description: 'fallback poll for new commits' },
  {
    flags: '--status-port <port>',
    path: 'status.port',
    description: 'serve /status and /metrics on this port, on status.host',
  },
];

/** The config sources: the file, the environment (less the consumer's variables) and the command line's flags. */
export const configSources = (flags: { config?: string } & Record<string, unknown>): ConfigSources => ({
  file: flags.config,
  env: process.env,
  ignoreEnv: CLI_ENV_NAMES['oplog-consumer'],
  options: START_OPTIONS,
  values: flags,
});
