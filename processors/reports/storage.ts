/**
 * Where report files go: a small interface with two implementations, a local folder (the
 * embedded default) and an S3-compatible API (S3Proxy in the harness, MinIO or S3Proxy in the
 * compose files), chosen from the environment:
 *
 *   S3_ENDPOINT              an S3 API (path-style addressing); unset → the local folder
 *   S3_ACCESS_KEY, S3_SECRET_KEY, S3_REGION (default us-east-1), REPORTS_BUCKET (default orderstream-reports)
 *   REPORTS_DIR              the local folder, default ./data/reports
 *
 * `put` is idempotent by content: the same key with the same bytes leaves one object with the
 * same checksum (S3 checks the body against Content-MD5 and answers the MD5 as ETag).
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { Readable } from 'node:stream';
import {
  CreateBucketCommand, GetObjectCommand, HeadBucketCommand, ListObjectsV2Command, PutObjectCommand, S3Client, S3ServiceException,
} from '@aws-sdk/client-s3';
import type { Env } from '../common/index.ts';

export interface StoredObject {
  readonly key: string;
  readonly size: number;
  /** Hex MD5 of the body (S3's ETag of a single-part upload, unquoted). */
  readonly etag: string;
}

export interface ReportStorage {
  readonly name: string;
  /** Writes the object; resolves with its ETag (hex MD5). */
  put(key: string, body: Buffer, options: { contentType: string; md5?: string }): Promise<string>;
  /** The object as a stream, or undefined when there is none. */
  get(key: string): Promise<{ body: Readable; size: number; contentType: string } | undefined>;
  /** Objects whose key starts with `prefix`, sorted by key. */
  list(prefix: string): Promise<StoredObject[]>;
}

/** Storage failed; `retriable` when a later attempt may succeed (network, 5xx, throttling). */
export class ReportStorageError extends Error {
  constructor(message: string, readonly retriable: boolean, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ReportStorageError';
  }
}

/** Keys are relative, '/'-separated, with no '..' or empty segments: they name files under one folder. */
export function checkKey(key: string): string {
  if (key === '' || key.startsWith('/') || key.split('/').some((s) => s === '' || s === '.' || s === '..') || key.includes('\\') || key.includes('\0')) {
    throw new ReportStorageError(`invalid object key ${JSON.stringify(key)}`, false);
  }
  return key;
}

const hexMd5 = (b: Buffer) => createHash('md5').update(b).digest('hex');

const CONTENT_TYPES: Record<string, string> = { csv: 'text/csv; charset=utf-8', gz: 'application/gzip' };

/** A folder: files written to a temporary name and renamed, so a reader never sees half a file. */
export function localStorage(dir: string): ReportStorage {
  const root = resolve(dir);
  return {
    name: `local:${root}`,
    async put(key, body) {
      const path = join(root, checkKey(key));
      await mkdir(dirname(path), { recursive: true });
      const tmp = `${path}.${process.pid}.${Date.now()}.tmp`;
      await writeFile(tmp, body);
      await rename(tmp, path);
      return hexMd5(body);
    },
    async get(key) {
      const path = join(root, checkKey(key));
      const s = await stat(path).catch(() => undefined);
      if (!s?.isFile()) return undefined;
      return { body: createReadStream(path), size: s.size, contentType: CONTENT_TYPES[key.split('.').at(-1) ?? ''] ?? 'application/octet-stream' };
    },
    async list(prefix) {
      const out: StoredObject[] = [];
      const walk = async (d: string): Promise<void> => {
        const entries = await readdir(d, { withFileTypes: true }).catch(() => []);
        for (const e of entries) {
          const p = join(d, e.name);
          if (e.isDirectory()) await walk(p);
          else if (e.isFile() && !e.name.endsWith('.tmp')) {
            const key = relative(root, p).split(sep).join('/');
            if (key.startsWith(prefix)) {
              const body = await readFile(p);
              out.push({ key, size: body.length, etag: hexMd5(body) });
            }
          }
        }
      };
      await walk(root);
      return out.sort((a, b) => (a.key < b.key ? -1 : 1));
    },
  };
}

export interface S3StorageOptions {
  readonly endpoint: string;
  readonly bucket: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly region?: string;
  /** Create the bucket when missing (default true). */
  readonly createBucket?: boolean;
}

function s3Error(what: string, e: unknown): ReportStorageError {
  const status = e instanceof S3ServiceException ? e.$metadata.httpStatusCode : undefined;
  const retriable = status === undefined || status >= 500 || status === 429;
  return new ReportStorageError(`${what}: ${e instanceof Error ? e.message : String(e)}`, retriable, { cause: e });
}

export function s3Storage(options: S3StorageOptions): ReportStorage & { readonly client: S3Client; readonly bucket: string } {
  const client = new S3Client({
    endpoint: options.endpoint,
    region: options.region ?? 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey },
    // S3Proxy answers MD5 ETags; the SDK's default CRC32 trailers are not needed on top of Content-MD5.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  const bucket = options.bucket;
  let ready: Promise<void> | undefined;
  const ensureBucket = () => (ready ??= (async () => {
    if (options.createBucket === false) return;
    try {
      await client.send(new HeadBucketCommand({ Bucket: bucket }));
    } catch {
      await client.send(new CreateBucketCommand({ Bucket: bucket })).catch((e: unknown) => {
        const code = (e as { name?: string }).name;
        if (code !== 'BucketAlreadyOwnedByYou' && code !== 'BucketAlreadyExists') throw e;
      });
    }
  })().catch((e: unknown) => { ready = undefined; throw s3Error(`bucket ${bucket}`, e); }));
  return {
    name: `s3:${options.endpoint}/${bucket}`,
    client,
    bucket,
    async put(key, body, { contentType, md5 }) {
      await ensureBucket();
      const expected = hexMd5(body);
      try {
        const out = await client.send(new PutObjectCommand({
          Bucket: bucket, Key: checkKey(key), Body: body, ContentType: contentType,
          ContentMD5: md5 ?? Buffer.from(expected, 'hex').toString('base64'), ContentLength: body.length,
        }));
        const etag = (out.ETag ?? '').replace(/"/g, '');
        if (etag !== '' && etag !== expected) throw new ReportStorageError(`put ${key}: ETag ${etag} is not the body's MD5 ${expected}`, true);
        return expected;
      } catch (e) {
        if (e instanceof ReportStorageError) throw e;
        throw s3Error(`put ${key}`, e);
      }
    },
    async get(key) {
      await ensureBucket();
      try {
        const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: checkKey(key) }));
        return { body: out.Body as Readable, size: out.ContentLength ?? 0, contentType: out.ContentType ?? 'application/octet-stream' };
      } catch (e) {
        const name = (e as { name?: string }).name;
        if (name === 'NoSuchKey' || name === 'NotFound' || (e instanceof S3ServiceException && e.$metadata.httpStatusCode === 404)) return undefined;
        throw s3Error(`get ${key}`, e);
      }
    },
    async list(prefix) {
      await ensureBucket();
      const out: StoredObject[] = [];
      let token: string | undefined;
      try {
        do {
          const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
          for (const o of page.Contents ?? []) out.push({ key: o.Key!, size: o.Size ?? 0, etag: (o.ETag ?? '').replace(/"/g, '') });
          token = page.IsTruncated ? page.NextContinuationToken : undefined;
        } while (token);
      } catch (e) {
        throw s3Error(`list ${prefix}`, e);
      }
      return out.sort((a, b) => (a.key < b.key ? -1 : 1));
    },
  };
}

export function reportStorageFromEnv(env: Env): ReportStorage {
  if (env.S3_ENDPOINT && env.REPORTS_STORAGE !== 'local') {
    return s3Storage({
      endpoint: env.S3_ENDPOINT,
      bucket: env.REPORTS_BUCKET || 'orderstream-reports',
      accessKeyId: env.S3_ACCESS_KEY ?? '',
      secretAccessKey: env.S3_SECRET_KEY ?? '',
      region: env.S3_REGION || 'us-east-1',
    });
  }
  return localStorage(env.REPORTS_DIR || 'data/reports');
}

/** Reads a stream whole (tests, small objects). */
export async function readAll(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of Readable.from(body)) chunks.push(Buffer.from(c as Uint8Array));
  return Buffer.concat(chunks);
}
