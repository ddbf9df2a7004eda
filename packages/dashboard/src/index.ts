export { checkDashboardAccess, type DashboardOptions, isLoopback } from './dashboard-access.js';
export {
  type DashboardAsset,
  type DashboardAssets,
  loadDashboard,
} from './dashboard-bundle.js';
export { createHttpHandler, type HttpApiHost } from './http-api.js';
export { isHeadKnown, type Lag, LIVE_LAG_MS, lagOf } from './lag.js';
export { loadLagHistory, OplogLagSample } from './lag-history.js';
export { LagMonitor } from './lag-monitor.js';
export { ConsumerMetrics } from './metrics.js';
export { type HistoryPoint, LAG_STATES, type LagMessage, type LagState, type SourceLag } from './source-lag.js';
