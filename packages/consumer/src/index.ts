export { type Applier, createApplier } from './applier.js';
export { Consumer, type ConsumerOptions, createConsumer, type SourceSnapshot } from './consumer.js';
export { consumerEntities, loadSources, type StoredSource } from './cursor-store.js';
export { checkDashboardAccess, type DashboardOptions, isLoopback } from './dashboard-access.js';
export { type Lag, LIVE_LAG_MS, lagOf, SOURCE_STATES, type SourceStateName } from './lag.js';
export { type HistoryPoint, loadLagHistory, OplogLagSample } from './lag-history.js';
export type { SourceLag } from './lag-tracker.js';
