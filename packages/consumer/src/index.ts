export { Consumer, createConsumer, type ConsumerOptions, type SourceSnapshot } from './consumer.js';
export { consumerEntities, loadCursors, type StoredCursor } from './cursor-store.js';
export { type Applier, createApplier } from './applier.js';
