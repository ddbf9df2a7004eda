export { encodeBatch, type PackedEntries, packEntries, type StoredEntry } from './batch-encode.js';
export { decodeConsumerFrame, decodeProducerFrame, encodeFrame } from './codec.js';
export { admitBatch, advanceCursor, type Cursor, continuesCursor, trimPoint } from './cursor.js';
export { MAX_FRAME_DEPTH } from './depth-check.js';
export { type Json, OPS, type Op, type OplogEntry, oplogEntrySchema } from './entry.js';
export {
  closeFor,
  ERRORS,
  type ErrorCode,
  haltsSource,
  isErrorCode,
  isWireCode,
  type WireCode,
} from './error-codes.js';
export { errorDocs } from './error-docs.js';
export { OplogError } from './errors.js';
export * from './frames.js';
export { admitHello, fenceNewcomer, type HelloContext } from './hello-admission.js';
export { describeDifference, diffSchemas, type SchemaDifference } from './schema-diff.js';
export { type OutgoingFrame, SendWindow, type WindowLimits } from './send-window.js';
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
export { checkWelcome, type ProducerLog } from './welcome-check.js';
