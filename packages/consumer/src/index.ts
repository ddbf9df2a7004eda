export { type Applier, type ApplyContext, createApplier } from './applier.js';
export { Consumer, createConsumer } from './consumer.js';
export type { ConsumerOptions } from './consumer-options.js';
export {
  type CredentialInfo,
  CredentialStore,
  OplogSourceCredential,
  type Refusal,
  type Verification,
  type VerifiedCredential,
} from './credential-store.js';
export { consumerEntities, loadSources, type StoredSource } from './cursor-store.js';
export { checkDashboardAccess, type DashboardOptions, isLoopback } from './dashboard-access.js';
export type { TlsFiles } from './edge-server.js';
export { isHeadKnown, type Lag, LIVE_LAG_MS, lagOf, SOURCE_STATES, type SourceStateName } from './lag.js';
export { type HistoryPoint, loadLagHistory, OplogLagSample } from './lag-history.js';
export type { SourceLag } from './lag-tracker.js';
export type { PresenceSnapshot } from './source-presence.js';
export type { SourceSnapshot } from './source-snapshot.js';
export { type AuthMode, checkAuthMode } from './upgrade-auth.js';
