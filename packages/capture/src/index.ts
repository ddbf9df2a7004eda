export { uncapturedCascades } from './cascade-check.js';
export { schemaFingerprint } from './fingerprint.js';
export { type OplogEntryRow, OUTBOX_ENTITY_NAMES, OUTBOX_TABLES, oplogEntities } from './outbox-schema.js';
export { ensureSource, readSourceHead, renewIncarnation, type SourceHead } from './outbox-writer.js';
export { onPostgres } from './platform.js';
export { countRows, readSnapshotPage, type SnapshotRows } from './snapshot-page.js';
export { type CaptureOptions, OplogCapture } from './subscriber.js';
