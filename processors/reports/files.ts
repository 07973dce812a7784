/**
 * Rendering a closed window into the files it is stored as. Pure and deterministic: the same
 * window always renders the same bytes (rows sorted, gzip at a fixed level with no name and
 * mtime 0), which is what makes a re-run or a re-upload after a crash write identical objects.
 *
 *   reports/<date>/orders.csv            one row per order
 *   reports/<date>/summary.csv           one row per seller: orders, revenue, cancellations, refunds
 *   reports/<date>/sellers/<seller>.csv  a seller's own orders (their lines only): what they download
 *   backups/<date>/orders.ndjson.gz      the window's orders as newline-delimited JSON, gzip
 */
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { stringify } from 'csv-stringify/sync';
import {
  currentStatus, orderTotal, sellersOf, sortedOrders, sortedStatuses, windowLabel,
  type ReportLine, type ReportOrder, type WindowReport,
} from './model.ts';

export interface ReportFile {
  readonly key: string;
  readonly body: Buffer;
  readonly contentType: string;
  /** Base64 MD5 of the body (S3's Content-MD5). */
  readonly md5: string;
}

export const ORDER_COLUMNS = ['orderId', 'buyerId', 'sellerIds', 'lines', 'items', 'total', 'status', 'statusReason', 'fulfilment', 'placedAt', 'lastUpdatedAt'] as const;
export const SUMMARY_COLUMNS = ['sellerId', 'orders', 'revenue', 'cancellations', 'refunds'] as const;

/** Statuses whose orders bring no revenue. */
const NO_REVENUE = new Set(['CANCELLED', 'REFUNDED']);

export interface SellerSummary {
  readonly sellerId: string;
  readonly orders: number;
  /** Sum of the seller's lines over orders neither cancelled nor refunded, minor units. */
  readonly revenue: number;
  readonly cancellations: number;
  readonly refunds: number;
}

export function reportKeys(date: string): { orders: string; summary: string; seller: (sellerId: string) => string; backup: string } {
  return {
    orders: `reports/${date}/orders.csv`,
    summary: `reports/${date}/summary.csv`,
    seller: (sellerId) => `reports/${date}/sellers/${sellerId}.csv`,
    backup: `backups/${date}/orders.ndjson.gz`,
  };
}

/** One CSV row of an order; `lines` limits it to some of its lines (a seller's). */
export function orderRow(order: ReportOrder, lines: readonly ReportLine[] = order.lines): string[] {
  const status = currentStatus(order);
  const part = { ...order, lines };
  return [
    order.orderId,
    order.customerId,
    sellersOf(part).join(' '),
    lines.map((l) => `${l.productId} x${l.quantity} @${l.unitPrice}`).join('; '),
    String(lines.reduce((n, l) => n + l.quantity, 0)),
    String(orderTotal(part)),
    status?.to ?? 'CREATED',
    status?.reason ?? '',
    order.fulfilment,
    new Date(order.placedAt).toISOString(),
    new Date(status?.at ?? order.placedAt).toISOString(),
  ];
}

export function sellerSummaries(orders: readonly ReportOrder[]): SellerSummary[] {
  const by = new Map<string, { orders: number; revenue: number; cancellations: number; refunds: number }>();
  for (const order of orders) {
    const status = currentStatus(order)?.to ?? 'CREATED';
    for (const sellerId of sellersOf(order)) {
      const s = by.get(sellerId) ?? { orders: 0, revenue: 0, cancellations: 0, refunds: 0 };
      s.orders += 1;
      if (!NO_REVENUE.has(status)) s.revenue += order.lines.filter((l) => l.sellerId === sellerId).reduce((n, l) => n + l.quantity * l.unitPrice, 0);
      if (status === 'CANCELLED') s.cancellations += 1;
      if (status === 'REFUNDED') s.refunds += 1;
      by.set(sellerId, s);
    }
  }
  return [...by.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([sellerId, s]) => ({ sellerId, ...s }));
}

function csv(columns: readonly string[], rows: readonly (readonly string[])[]): Buffer {
  return Buffer.from(stringify(rows as string[][], { header: true, columns: [...columns], eof: true, record_delimiter: 'unix' }), 'utf8');
}

/** Fixed level, no file name, mtime 0 (Node writes 0): the same input gives the same bytes. */
export function deterministicGzip(body: Buffer): Buffer {
  return gzipSync(body, { level: 9, memLevel: 8, windowBits: 15, strategy: 0 });
}

export function ndjson(orders: readonly ReportOrder[]): Buffer {
  return Buffer.from(orders.map((o) => `${JSON.stringify({
    orderId: o.orderId, customerId: o.customerId, sellerIds: sellersOf(o), fulfilment: o.fulfilment, placedAt: o.placedAt,
    lines: o.lines.map((l) => ({ productId: l.productId, sellerId: l.sellerId, quantity: l.quantity, unitPrice: l.unitPrice })),
    total: orderTotal(o), status: currentStatus(o)?.to ?? 'CREATED',
    statuses: sortedStatuses(o.statuses).map((s) => ({ to: s.to, at: s.at, sequence: s.sequence, reason: s.reason })),
  })}\n`).join(''), 'utf8');
}

export function md5Base64(body: Buffer): string {
  return createHash('md5').update(body).digest('base64');
}

function file(key: string, body: Buffer, contentType: string): ReportFile {
  return { key, body, contentType, md5: md5Base64(body) };
}

/** Every file of a closed window, in a fixed order (the backup last: its presence marks the window complete). */
export function renderWindow(report: WindowReport): ReportFile[] {
  const date = windowLabel(report.windowStart, report.windowEnd);
  const keys = reportKeys(date);
  const orders = sortedOrders(report);
  const files: ReportFile[] = [file(keys.orders, csv(ORDER_COLUMNS, orders.map((o) => orderRow(o))), 'text/csv; charset=utf-8')];
  const summaries = sellerSummaries(orders);
  files.push(file(keys.summary, csv(SUMMARY_COLUMNS, summaries.map((s) => [s.sellerId, String(s.orders), String(s.revenue), String(s.cancellations), String(s.refunds)])), 'text/csv; charset=utf-8'));
  for (const { sellerId } of summaries) {
    const rows = orders.flatMap((o) => {
      const own = o.lines.filter((l) => l.sellerId === sellerId);
      return own.length === 0 ? [] : [orderRow(o, own)];
    });
    files.push(file(keys.seller(sellerId), csv(ORDER_COLUMNS, rows), 'text/csv; charset=utf-8'));
  }
  files.push(file(keys.backup, deterministicGzip(ndjson(orders)), 'application/gzip'));
  return files;
}
