import type { DashboardOptions } from '@oplog/dashboard';
import type { Cursor } from '@oplog/protocol';
import type { SchemaPolicy } from '@oplog/replay';
import type { Logger } from '@oplog/runtime';
import type { TlsFiles } from './edge-server.js';
import type { AuthMode } from './upgrade-auth.js';

export interface ConsumerOptions {
  host?: string;
  /** 0 picks a free port; read it back from `address()`. */
  port?: number;
  /** The WebSocket endpoint's path. */
  path?: string;
  /**
   * `credentials` (default): a producer connects only with a valid source credential (`Authorization: Bearer`,
   * see CredentialStore). `none` also admits producers without one, and only on a loopback `host`.
   */
  auth?: AuthMode;
  /** How often the credentials of connected sources are re-read; a revoked or expired one closes its session. */
  credentialCheckMs?: number;
  /** Serve https / wss with this certificate and key (PEM file paths). */
  tls?: TlsFiles;
  /** Entity names accepted from sources (default: every entity of the consumer's ORM). */
  entities?: readonly string[];
  /**
   * Entities whose rows any source may point at (shared reference data, e.g. a country list every site uses). By
   * default a change may point only at rows its own source owns (OPLOG_NOT_OWNER otherwise), so that no tenant can
   * stop another from deleting its rows. The owner of a shared row cannot delete it while others point at it.
   */
  sharedEntities?: readonly string[];
  /**
   * When a source's entities have fields or types other than the consumer's: `refuse` the session (default), or
   * `apply-known`: apply the fields both have with the same type, leave out the rest, and report them.
   */
  schemaPolicy?: SchemaPolicy;
  /**
   * A source transaction this database refuses (a constraint violation, a row of another source): `halt` the source
   * there, its producer retrying with backoff, until the cause is fixed (default); or `quarantine` it in
   * oplog_quarantine and go on.
   */
  poison?: 'halt' | 'quarantine';
  maxPayload?: number;
  maxConnections?: number;
  /** Entries per batch frame; a bigger one is refused with OPLOG_BATCH_TOO_BIG. */
  maxBatchEntries?: number;
  /** Entries applied per second per source (default: no limit); a faster source is slowed down, never dropped. */
  maxEntriesPerSecond?: number;
  /** An HTTP request, the WebSocket upgrade included, must arrive whole within this long. */
  requestTimeoutMs?: number;
  /** A silent producer (no frame, no pong) is cut off after this long. */
  peerTimeoutMs?: number;
  helloTimeoutMs?: number;
  /** Read access to the dashboard and /metrics; a token is required when listening beyond loopback. */
  dashboard?: DashboardOptions;
  /** How often every source's lag is recorded for the dashboard's chart, and how long it is kept. */
  lagSampleMs?: number;
  lagRetentionMs?: number;
  /**
   * SQLite only: switch the consumer's database to WAL with synchronous=FULL at start (see useSqliteWal), so an
   * applied batch commits with one fsync instead of several, still durably. Default true; false leaves the journal
   * mode alone (for a database on a network filesystem, where WAL cannot work).
   */
  sqliteWal?: boolean;
  /**
   * Called after each commit of a source's changes, with the source and the cursor now durable (before the acks go
   * out): a hook to start downstream work on fresh data. It must not throw.
   */
  onApplied?: (source: string, cursor: Cursor) => void;
  /**
   * How often the center lock (one consumer per center database, see center-lock.ts in @oplog/replay) is checked; a
   * consumer that lost it stops applying and stops. On SQLite the lock is a lease of 6 periods.
   */
  lockCheckMs?: number;
  logger?: Logger;
}

export const CONSUMER_DEFAULTS = {
  host: '127.0.0.1',
  port: 7420,
  path: '/oplog',
  maxPayload: 4 << 20,
  maxConnections: 1000,
  maxBatchEntries: 10_000,
  requestTimeoutMs: 10_000,
  auth: 'credentials' as AuthMode,
  credentialCheckMs: 2000,
  peerTimeoutMs: 10_000,
  helloTimeoutMs: 10_000,
  lagSampleMs: 5000,
  lagRetentionMs: 3_600_000,
  sqliteWal: true,
  lockCheckMs: 5000,
  schemaPolicy: 'refuse' as SchemaPolicy,
  poison: 'halt' as 'halt' | 'quarantine',
};
