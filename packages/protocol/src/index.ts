export { decodeConsumerFrame, decodeProducerFrame, encodeFrame } from './codec.js';
export { admitBatch, advanceCursor, type Cursor } from './cursor.js';
export { type Json, OPS, type Op, type OplogEntry, oplogEntrySchema } from './entry.js';
export { ERRORS, type ErrorCode, isErrorCode, OplogError } from './errors.js';
export * from './frames.js';
export {
  formatSourceToken,
  isSourceId,
  isSourceToken,
  parseSourceToken,
  SOURCE_ID_PATTERN,
  type SourceToken,
} from './source-token.js';
export { MIN_PROTOCOL_VERSION, negotiateVersion, PROTOCOL_VERSION } from './version.js';
