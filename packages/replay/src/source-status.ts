import type { Position, SchemaDifference } from '@oplog/protocol';
import type { PresenceView } from './source-presence.js';
import type { SourceReplay } from './source-replay.js';

/** What the consumer knows of one source right now (for status, metrics and the dashboard). */
export interface SourceStatus extends PresenceView {
  id: string;
  connected: boolean;
  incarnation: string | null;
  cursor: Position;
  head: Position;
  lastError: SourceReplay['lastError'];
  /** Set while a poison change holds the source back. */
  halted: SourceReplay['halted'];
  /** When a second producer of this source was last refused (OPLOG_SOURCE_BUSY). */
  fencedAt: number | undefined;
  appliedEntries: number;
  /** Entries parked in oplog_quarantine since this consumer started (poison: quarantine). */
  quarantinedEntries: number;
  /** While the source is being snapshotted: why, and how far (rows staged of the rows counted). */
  snapshot: { reason: string; rows: number; total: number; percent: number } | undefined;
  lastResync: SourceReplay['lastResync'];
  /** Fields left out under schemaPolicy apply-known. */
  schemaDifferences: SchemaDifference[];
}

export function statusOf(s: SourceReplay, schemaDifferences: SchemaDifference[]): SourceStatus {
  return {
    id: s.id,
    connected: s.session !== undefined,
    incarnation: s.cursor.incarnation,
    cursor: { seq: s.cursor.seq, epoch: s.cursor.epoch },
    head: s.head,
    ...s.presence.view(),
    lastError: s.lastError,
    halted: s.halted,
    fencedAt: s.fencedAt,
    appliedEntries: s.appliedEntries,
    quarantinedEntries: s.quarantinedEntries,
    snapshot: s.snapshot && {
      reason: s.snapshot.reason,
      rows: s.snapshot.rows,
      total: s.snapshot.total,
      percent: s.snapshot.total > 0 ? Math.min(100, (100 * s.snapshot.rows) / s.snapshot.total) : 0,
    },
    lastResync: s.lastResync,
    schemaDifferences,
  };
}
