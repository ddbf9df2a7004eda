import type { Position, SchemaDifference } from '@oplog/protocol';
import type { PresenceSnapshot } from './source-presence.js';
import type { SourceState } from './source-state.js';

/** What the consumer knows of one source right now (for status, metrics and the dashboard). */
export interface SourceSnapshot extends PresenceSnapshot {
  id: string;
  connected: boolean;
  incarnation: string | null;
  cursor: Position;
  head: Position;
  lastError: SourceState['lastError'];
  /** Set while a poison change holds the source back. */
  halted: SourceState['halted'];
  /** When a second producer of this source was last refused (OPLOG_SOURCE_BUSY). */
  fencedAt: number | undefined;
  appliedEntries: number;
  /** Entries parked in oplog_quarantine since this consumer started (poison: quarantine). */
  quarantinedEntries: number;
  /** While the source is being snapshotted: why, and how far (rows staged of the rows counted). */
  snapshot: { reason: string; rows: number; total: number; percent: number } | undefined;
  lastResync: SourceState['lastResync'];
  /** Fields left out under schemaPolicy apply-known. */
  schemaDifferences: SchemaDifference[];
}
