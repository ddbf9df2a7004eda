export { buildDashboard, type DashboardAsset, type DashboardAssets } from './build.js';
