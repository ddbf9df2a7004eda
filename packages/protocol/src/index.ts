export { PROTOCOL_VERSION, MIN_PROTOCOL_VERSION, negotiateVersion } from './version.js';
export { type Json, type Op, OPS, type OplogEntry, oplogEntrySchema } from './entry.js';
export { ERRORS, type ErrorCode, isErrorCode, OplogError } from './errors.js';
export * from './frames.js';
export { encodeFrame, decodeProducerFrame, decodeConsumerFrame } from './codec.js';
export { type Cursor, admitBatch, advanceCursor } from './cursor.js';
