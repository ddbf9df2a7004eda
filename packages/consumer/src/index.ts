export { type Applier, createApplier } from './applier.js';
export { Consumer, type ConsumerOptions, createConsumer, type SourceSnapshot } from './consumer.js';
export { consumerEntities, loadCursors, type StoredCursor } from './cursor-store.js';
