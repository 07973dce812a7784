import test from 'ava';
import { gunzipSync } from 'node:zlib';
import { parseCsvRecords } from './csv-read.ts';
import { deterministicGzip, orderRow, renderWindow, sellerSummaries, ORDER_COLUMNS } from './files.ts';
import type { ReportOrder, WindowReport } from './model.ts';

const DEC1 = Date.UTC(2026, 11, 1);

const order = (orderId: string, placedAt: number, lines: ReportOrder['lines'], last?: ReportOrder['statuses'][number]['to']): ReportOrder => ({
  orderId, customerId: `buyer-${orderId}`, placedAt, fulfilment: 'DELIVERY', lines,
  statuses: last ? [{ to: 'CREATED', at: placedAt + 1, sequence: 1, reason: null }, { to: last, at: placedAt + 2, sequence: 2, reason: last === 'CANCELLED' ? 'out of stock, "p2"' : null }] : [],
});

const orders = [
  order('b', DEC1 + 20, [{ productId: 'p1', sellerId: 's1', quantity: 1, unitPrice: 1000 }, { productId: 'p2', sellerId: 's2', quantity: 3, unitPrice: 200 }], 'COMPLETED'),
  order('a', DEC1 + 10, [{ productId: 'p2', sellerId: 's2', quantity: 1, unitPrice: 200 }], 'CANCELLED'),
  order('c', DEC1 + 30, [{ productId: 'p1', sellerId: 's1', quantity: 2, unitPrice: 1000 }], 'REFUNDED'),
];
const report: WindowReport = { windowStart: DEC1, windowEnd: DEC1 + 86_400_000, orders: Object.fromEntries(orders.map((o) => [o.orderId, o])) };

test('an order row carries id, buyer, sellers, lines, total, current status and timestamps', (t) => {
  const row = orderRow(orders[0]!);
  t.deepEqual(row, ['b', 'buyer-b', 's1 s2', 'p1 x1 @1000; p2 x3 @200', '4', '1600', 'COMPLETED', '', 'DELIVERY',
    new Date(DEC1 + 20).toISOString(), new Date(DEC1 + 22).toISOString()]);
  t.is(orderRow(order('x', DEC1, []))[6], 'CREATED', 'no status seen yet reads as CREATED');
});

test('seller summaries count orders, revenue without cancelled or refunded orders, cancellations and refunds', (t) => {
  t.deepEqual(sellerSummaries(orders), [
    { sellerId: 's1', orders: 2, revenue: 1000, cancellations: 0, refunds: 1 },
    { sellerId: 's2', orders: 2, revenue: 600, cancellations: 1, refunds: 0 },
  ]);
});

test('a window renders date-named files; the CSV parses back with RFC 4180 quoting, sorted by placement', (t) => {
  const files = renderWindow(report);
  t.deepEqual(files.map((f) => f.key), [
    'reports/2026-12-01/orders.csv', 'reports/2026-12-01/summary.csv',
    'reports/2026-12-01/sellers/s1.csv', 'reports/2026-12-01/sellers/s2.csv', 'backups/2026-12-01/orders.ndjson.gz',
  ]);
  const rows = parseCsvRecords(files[0]!.body.toString('utf8'));
  t.deepEqual(Object.keys(rows[0]!), [...ORDER_COLUMNS]);
  t.deepEqual(rows.map((r) => r.orderId), ['a', 'b', 'c']);
  t.is(rows[0]!.statusReason, 'out of stock, "p2"');
  const s2 = parseCsvRecords(files[3]!.body.toString('utf8'));
  t.deepEqual(s2.map((r) => [r.orderId, r.lines, r.total]), [['a', 'p2 x1 @200', '200'], ['b', 'p2 x3 @200', '600']], 'a seller sees only their lines');
  const backup = gunzipSync(files[4]!.body).toString('utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as { orderId: string; total: number });
  t.deepEqual(backup.map((o) => [o.orderId, o.total]), [['a', 200], ['b', 1600], ['c', 2000]]);
});

test('rendering is deterministic: same bytes and MD5 whatever the input order', (t) => {
  const reversed: WindowReport = { ...report, orders: Object.fromEntries([...orders].reverse().map((o) => [o.orderId, o])) };
  const a = renderWindow(report);
  const b = renderWindow(reversed);
  t.deepEqual(a.map((f) => f.md5), b.map((f) => f.md5));
  t.true(a.every((f, i) => f.body.equals(b[i]!.body)));
  const gz = deterministicGzip(Buffer.from('hello'));
  t.is(gz.readUInt32LE(4), 0, 'gzip mtime is 0');
  t.true(gz.equals(deterministicGzip(Buffer.from('hello'))));
});
