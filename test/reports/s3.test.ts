/**
 * Reports on a real S3 API (S3Proxy from the services harness, S3_ENDPOINT): a window of known
 * orders closes → the CSV reports and the NDJSON gzip backup appear under the date-named keys,
 * read back through the S3 API they hold exactly those orders; a re-run (a new application id,
 * reading the topics from the beginning) writes identical objects (same ETags); a crash between
 * upload and commit, then a restart, leaves one object per key with the same content.
 * The broker is the memory transport: what is under test is the object storage side.
 * Each run uses its own bucket and deletes it afterwards.
 */
import test from 'ava';
import { randomUUID } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { DeleteBucketCommand, DeleteObjectsCommand, GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { registryContracts, startProcessor, valueSerdeOf, type RunningProcessor } from '../../processors/common/index.ts';
import { reportsSpec, rebuildWindows, s3Storage, readAll, parseCsvRecords, type ReportFile } from '../../processors/reports/index.ts';
import type { OrderPlaced, OrderStatusChanged, StockLevel, TopicName } from '../../schemas/index.ts';
import { embeddedRegistry } from '../../schemas/index.ts';
import { MemoryTransport } from '../../transports/index.ts';
import { waitUntil } from '../conformance/suite.ts';

const endpoint = process.env.S3_ENDPOINT;
const s3test = endpoint ? test.serial : test.skip;

const DAY = 86_400_000;
const DEC1 = Date.UTC(2026, 11, 1);
const GRACE = 60_000;
const SELLER_A = randomUUID();
const SELLER_B = randomUUID();
const P1 = randomUUID();
const P2 = randomUUID();

s3test('a closed window lands in S3 under date-named keys; re-runs and a crash before commit leave identical objects', async (t) => {
  const bucket = `reports-test-${randomUUID().slice(0, 8)}`;
  const storage = s3Storage({ endpoint: endpoint!, bucket, accessKeyId: process.env.S3_ACCESS_KEY ?? '', secretAccessKey: process.env.S3_SECRET_KEY ?? '' });
  const s3 = storage.client;
  t.teardown(async () => {
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket })).catch(() => undefined);
    const keys = (listed?.Contents ?? []).map((o) => ({ Key: o.Key! }));
    if (keys.length) await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys } }));
    await s3.send(new DeleteBucketCommand({ Bucket: bucket })).catch(() => undefined);
  });

  const transport = new MemoryTransport();
  t.teardown(() => transport.close());
  const contracts = registryContracts(embeddedRegistry().client);
  // No clock ticks: the orders are of a past day, and only the closing order below may close it.
  const env = { REPORT_GRACE_MS: String(GRACE), REPORT_TICK_MS: '0', COMMIT_INTERVAL_MS: '50', TOPIC_PARTITIONS: '3' };
  const uploads: (readonly ReportFile[])[] = [];
  let crashNext = true;
  const start = (appId: string) => startProcessor(reportsSpec({
    storage,
    afterUpload: (files) => {
      uploads.push(files);
      if (crashNext) { crashNext = false; throw new Error('crash between upload and commit'); }
    },
  }), { transport, contracts, env: { ...env, APP_ID: appId }, logger: (line) => t.log(line) });

  let running: RunningProcessor = await start('reports-run-1');
  // A failed assertion must not leave the processor's timers holding the worker open.
  let closed = false;
  t.teardown(async () => { if (!closed) await running.close().catch(() => undefined); });
  const producer = transport.producer();
  await producer.connect();
  t.teardown(() => producer.disconnect());
  const send = async <T extends TopicName>(topic: T, key: string, value: unknown, timestamp: number) => {
    const bytes = await valueSerdeOf(contracts, topic).serialize(topic, value as never);
    await producer.send([{ topic, key: Buffer.from(key), value: bytes, timestamp }]);
  };
  for (const [productId, sellerId] of [[P1, SELLER_A], [P2, SELLER_B]] as const) {
    await send('stock-levels-topic', productId, { productId, sellerId, available: 100, updatedAt: DEC1 - DAY } satisfies StockLevel, DEC1 - DAY);
  }
  // Let the global table see the sellers before the orders come.
  await new Promise((r) => setTimeout(r, 300));
  const known = [0, 1, 2].map((i): OrderPlaced => ({
    eventId: randomUUID(), orderId: randomUUID(), customerId: randomUUID(),
    lines: i === 1 ? [{ productId: P1, quantity: 1, unitPrice: 1000 }, { productId: P2, quantity: 2, unitPrice: 250 }] : [{ productId: i === 0 ? P1 : P2, quantity: 3, unitPrice: 700 }],
    fulfilment: 'WAREHOUSE', delivery: null, idempotencyKey: null, placedAt: DEC1 + (i + 1) * 3_600_000,
  }));
  for (const o of known) await send('order-placed', o.orderId, o, o.placedAt);
  const cancel: OrderStatusChanged = { eventId: randomUUID(), orderId: known[2]!.orderId, from: null, to: 'CANCELLED', reason: 'payment failed', at: known[2]!.placedAt + 5, sequence: 1 };
  await send('order-status-topic', cancel.orderId, cancel, cancel.at);
  // The window stage reads one partition fed by three: the closing order must not overtake the
  // known ones on their way there (they would be late), so it waits until all four (three orders,
  // one cancellation) are in the repartition topic.
  const repartitioned = () => transport.broker.topics.get('reports-run-1-report-orders-repartition')?.logs[0]?.endOffset ?? 0;
  await waitUntil(() => repartitioned() >= 4, 'the known orders in the window stage', 90_000);
  // An order placed after Dec 1 ends + grace closes Dec 1 (and opens Dec 2, which stays open).
  const next: OrderPlaced = { ...known[0]!, eventId: randomUUID(), orderId: randomUUID(), placedAt: DEC1 + DAY + GRACE + 1 };
  await send('order-placed', next.orderId, next, next.placedAt);

  await waitUntil(() => uploads.length >= 1, 'the first upload', 90_000);
  const expectedKeys = [
    'backups/2026-12-01/orders.ndjson.gz', 'reports/2026-12-01/orders.csv',
    `reports/2026-12-01/sellers/${SELLER_A}.csv`, `reports/2026-12-01/sellers/${SELLER_B}.csv`, 'reports/2026-12-01/summary.csv',
  ].sort();
  const first = await storage.list('');
  t.deepEqual(first.map((o) => o.key), expectedKeys);

  const getText = async (key: string) => (await readAll((await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body as never)).toString('utf8');
  const rows = parseCsvRecords(await getText('reports/2026-12-01/orders.csv'));
  t.deepEqual(rows.map((r) => r.orderId), known.map((o) => o.orderId), 'exactly the known orders, in placement order');
  t.deepEqual(rows.map((r) => r.status), ['CREATED', 'CREATED', 'CANCELLED']);
  t.deepEqual(rows.map((r) => r.total), ['2100', '1500', '2100']);
  t.is(rows[1]!.sellerIds, [SELLER_A, SELLER_B].sort().join(' '));
  const backupObject = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'backups/2026-12-01/orders.ndjson.gz' }));
  const backup = gunzipSync(await readAll(backupObject.Body as never)).toString('utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as { orderId: string; customerId: string });
  t.deepEqual(backup.map((o) => [o.orderId, o.customerId]), known.map((o) => [o.orderId, o.customerId]));
  const summary = parseCsvRecords(await getText('reports/2026-12-01/summary.csv'));
  const bySeller = Object.fromEntries(summary.map((s) => [s.sellerId, [s.orders, s.revenue, s.cancellations]]));
  t.deepEqual(bySeller, { [SELLER_A]: ['2', String(2100 + 1000), '0'], [SELLER_B]: ['2', '500', '1'] });
  const etags = first.map((o) => o.etag);
  t.true(first.every((o) => /^[0-9a-f]{32}$/.test(o.etag)), 'single-part MD5 ETags');

  // A crash between upload and commit (the first run crashed right after its uploads, see
  // crashNext): the restarted uploader re-reads the uncommitted window and uploads it again.
  await t.throwsAsync(running.stopped(), { message: /crash between upload and commit/ });
  await running.close();
  running = await start('reports-run-1');
  await waitUntil(() => uploads.length >= 2, 'the re-upload after the crash', 30_000);
  const second = await storage.list('');
  t.deepEqual(second.map((o) => o.key), expectedKeys, 'one object per key');
  t.deepEqual(second.map((o) => o.etag), etags, 'same content after the crash');
  t.deepEqual(parseCsvRecords(await getText('reports/2026-12-01/orders.csv')).map((r) => r.orderId), known.map((o) => o.orderId));
  await running.close();
  closed = true;

  // A re-run (the rebuild of npm run report) reads the topics from the beginning: the same objects.
  const rebuilt = await rebuildWindows({
    transport, contracts, storage, windows: { windowMs: DAY, graceMs: GRACE }, fromMs: DEC1, toMs: DEC1 + DAY, idleMs: 300,
  });
  t.deepEqual(rebuilt.map((w) => Object.keys(w.orders).sort()), [known.map((o) => o.orderId).sort()]);
  const third = await storage.list('');
  t.deepEqual(third.map((o) => o.key), expectedKeys);
  t.deepEqual(third.map((o) => o.etag), etags, 're-run: same ETags');
});
