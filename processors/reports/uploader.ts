/**
 * The uploader: the reports processor's sidecar that writes closed windows to storage, which
 * cannot happen inside (synchronous) processing. It reads `<appId>-window-reports` with a plain
 * consumer (group `<appId>-uploader`), renders each window (files.ts), puts every file, and only
 * then commits the record's position.
 *
 * At-least-once is exactly enough: a crash between upload and commit re-reads the window and
 * re-renders the same bytes under the same keys, so storage ends with one object per key with the
 * same content and MD5 (ETag) as before — never a second, different object.
 */
import type { Consumer, RecordBatch, Transport } from '../../transports/index.ts';
import { sleep } from '../../transports/util.ts';
import type { Sidecar } from '../common/index.ts';
import { renderWindow, type ReportFile } from './files.ts';
import type { WindowReport } from './model.ts';
import type { ReportStorage } from './storage.ts';

export interface UploaderOptions {
  readonly transport: Transport;
  readonly storage: ReportStorage;
  readonly topic: string;
  readonly groupId: string;
  readonly logger: (line: string) => void;
  /** Attempts per file on retriable storage errors (default 5, back-off from 200 ms). */
  readonly attempts?: number;
  /** Called after a window's files are stored, before its commit (tests crash here). */
  readonly afterUpload?: (files: readonly ReportFile[]) => Promise<void> | void;
}

/** The uploader cannot go on: the window stays uncommitted and is redone by the next start. */
export class UploadError extends Error {
  constructor(message: string, readonly retriable: boolean, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'UploadError';
  }
}

export async function putWithRetry(storage: ReportStorage, file: ReportFile, attempts = 5): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await storage.put(file.key, file.body, { contentType: file.contentType, md5: file.md5 });
    } catch (e) {
      const retriable = (e as { retriable?: unknown }).retriable === true;
      if (!retriable || attempt >= attempts) throw new UploadError(`storing ${file.key} failed after ${attempt} attempt(s): ${(e as Error).message}`, retriable, { cause: e });
      await sleep(200 * 2 ** (attempt - 1));
    }
  }
}

/** Stores every file of a window; the backup goes last, so its presence marks a complete window. */
export async function storeWindow(storage: ReportStorage, report: WindowReport, attempts?: number): Promise<ReportFile[]> {
  const files = renderWindow(report);
  for (const f of files) await putWithRetry(storage, f, attempts);
  return files;
}

export async function startUploader(options: UploaderOptions): Promise<Sidecar> {
  const { transport, storage, logger } = options;
  const consumer: Consumer = transport.consumer({ groupId: options.groupId, topics: [options.topic], autoOffsetReset: 'earliest', maxBatchSize: 1 });
  async function handle(batch: RecordBatch): Promise<void> {
    for (const r of batch.records) {
      if (r.value !== null) {
        let report: WindowReport;
        try {
          report = JSON.parse(r.value.toString('utf8')) as WindowReport;
        } catch (e) {
          throw new UploadError(`unreadable window report at ${r.topic}/${r.partition}@${r.offset}`, false, { cause: e });
        }
        const files = await storeWindow(storage, report, options.attempts);
        logger(`window ${new Date(report.windowStart).toISOString()}: ${Object.keys(report.orders).length} orders, ${files.length} files stored in ${storage.name}`);
        await options.afterUpload?.(files);
      }
      await consumer.commit([{ topic: r.topic, partition: r.partition, offset: r.offset + 1 }]);
    }
  }
  await consumer.connect();
  try {
    await consumer.run(handle);
  } catch (e) {
    await consumer.disconnect().catch(() => undefined);
    throw e;
  }
  logger(`uploader reading ${options.topic} (group ${options.groupId}) into ${storage.name}`);
  let closing: Promise<void> | undefined;
  return {
    close: () => (closing ??= consumer.disconnect()),
    stopped: () => consumer.stopped(),
  };
}
