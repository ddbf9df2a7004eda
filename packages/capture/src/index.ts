export { OplogCapture, type CaptureOptions } from './subscriber.js';
export { oplogEntities, OUTBOX_TABLES, OUTBOX_ENTITY_NAMES, type OplogEntryRow } from './outbox-schema.js';
export { readSourceHead, ensureSource, type SourceHead } from './outbox-writer.js';
export { schemaFingerprint } from './fingerprint.js';
