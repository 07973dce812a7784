export { monitoringOptionsFromEnv, monitoringRoutes, type MonitoringOptions } from './routes.ts';
export { countingStatuses } from './status-metrics.ts';
export { PANELS, RATE_QUERIES, panel, type Panel } from './panels.ts';
