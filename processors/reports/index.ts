/**
 * The reports processor: daily (REPORT_WINDOW_MS) windows of orders, closed after REPORT_GRACE_MS,
 * written to storage as CSV reports and an NDJSON gzip backup. Env (besides
 * processors/common/process.ts): REPORT_WINDOW_MS (default 1 day), REPORT_GRACE_MS (default
 * 10 minutes), REPORT_TICK_MS (default 1 minute: a quiet input still closes its windows by the
 * clock; 0 = only a later order closes one), and the storage's (storage.ts: S3_ENDPOINT,
 * S3_ACCESS_KEY, S3_SECRET_KEY, REPORTS_BUCKET, REPORTS_DIR).
 */
import { numberFromEnv, type Env, type ProcessorSpec } from '../common/index.ts';
import type { ReportFile } from './files.ts';
import { reportStorageFromEnv, type ReportStorage } from './storage.ts';
import { DAY_MS, reportsTopology, windowTopicOf, type ReportWindowOptions } from './topology.ts';
import { startUploader } from './uploader.ts';

export * from './model.ts';
export * from './files.ts';
export * from './storage.ts';
export * from './topology.ts';
export { startUploader, storeWindow, putWithRetry, UploadError, type UploaderOptions } from './uploader.ts';

export const DEFAULT_GRACE_MS = 10 * 60_000;
/** A quiet collect task ticks once a minute, so a window closes within a minute of end + grace. */
export const DEFAULT_TICK_MS = 60_000;

export function reportWindowsFromEnv(env: Env): ReportWindowOptions {
  const windowMs = numberFromEnv(env, 'REPORT_WINDOW_MS', DAY_MS);
  const graceMs = numberFromEnv(env, 'REPORT_GRACE_MS', DEFAULT_GRACE_MS);
  const tickMs = numberFromEnv(env, 'REPORT_TICK_MS', DEFAULT_TICK_MS);
  if (!(windowMs > 0)) throw new RangeError(`REPORT_WINDOW_MS must be positive, not ${windowMs}`);
  if (!(graceMs >= 0)) throw new RangeError(`REPORT_GRACE_MS must not be negative, not ${graceMs}`);
  if (!(tickMs >= 0)) throw new RangeError(`REPORT_TICK_MS must not be negative, not ${tickMs}`);
  return { windowMs, graceMs, tickMs };
}

export interface ReportsSpecOptions {
  /** Where files go; default from the environment of the processor. */
  readonly storage?: ReportStorage;
  readonly afterUpload?: (files: readonly ReportFile[]) => Promise<void> | void;
}

export function reportsSpec(options: ReportsSpecOptions = {}): ProcessorSpec {
  return {
    name: 'reports',
    topics: ['order-placed', 'order-status-topic', 'stock-levels-topic'],
    topology: (contracts, env) => reportsTopology(contracts, reportWindowsFromEnv(env)),
    sidecar: (context) => startUploader({
      transport: context.transport,
      storage: options.storage ?? reportStorageFromEnv(context.env),
      topic: windowTopicOf(context.applicationId),
      groupId: `${context.applicationId}-uploader`,
      logger: context.logger,
      ...(options.afterUpload ? { afterUpload: options.afterUpload } : {}),
    }),
  };
}
export { parseCsv, parseCsvRecords } from './csv-read.ts';
export { rebuildWindows, readEvents, assembleWindows, type RebuildOptions, type ReplayEvent } from './rebuild.ts';
