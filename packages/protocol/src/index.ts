export { decodeConsumerFrame, decodeProducerFrame, encodeFrame } from './codec.js';
export { admitBatch, advanceCursor, type Cursor, continuesCursor, trimPoint } from './cursor.js';
export { MAX_FRAME_DEPTH } from './depth-check.js';
export { type Json, OPS, type Op, type OplogEntry, oplogEntrySchema } from './entry.js';
export { ERRORS, type ErrorCode, isErrorCode } from './error-codes.js';
export { errorDocs } from './error-docs.js';
export { OplogError } from './errors.js';
export * from './frames.js';
export { describeDifference, diffSchemas, type SchemaDifference } from './schema-diff.js';
export {
  advanceSnapshot,
  planSession,
  type SessionPlan,
  type SnapshotProgress,
  type SnapshotReason,
  type SourceRecord,
  snapshotReady,
} from './source-plan.js';
export {
  formatSourceToken,
  isSourceId,
  isSourceToken,
  parseSourceToken,
  SOURCE_ID_PATTERN,
  type SourceToken,
} from './source-token.js';
export { MIN_PROTOCOL_VERSION, negotiateVersion, PROTOCOL_VERSION } from './version.js';
