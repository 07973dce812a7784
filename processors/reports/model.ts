/**
 * What a report is made of: one `ReportOrder` per order (the order as placed, its sellers and its
 * status history), gathered per window into a `WindowReport`, the value the topology emits once a
 * window closes. Values are plain JSON: they travel through the window store, the suppression
 * buffer and the `<appId>-window-reports` topic as JSON.
 */
import type { OrderStatus } from '../../schemas/index.ts';

export interface ReportLine {
  readonly productId: string;
  /** The product's seller as stock-levels-topic last named it; null when no level was ever set. */
  readonly sellerId: string | null;
  readonly quantity: number;
  readonly unitPrice: number;
}

export interface ReportStatusChange {
  readonly to: OrderStatus;
  readonly at: number;
  readonly sequence: number;
  readonly reason: string | null;
}

export interface ReportOrder {
  readonly orderId: string;
  readonly customerId: string;
  readonly placedAt: number;
  readonly fulfilment: string;
  readonly lines: readonly ReportLine[];
  /** Every status change seen before the window closed, in (sequence, at) order. */
  readonly statuses: readonly ReportStatusChange[];
}

/** A closed window's orders, keyed by order id. */
export interface WindowReport {
  readonly windowStart: number;
  readonly windowEnd: number;
  readonly orders: Readonly<Record<string, ReportOrder>>;
}

/** The window's date as keys name it: the UTC day its start falls on (YYYY-MM-DD). */
export function windowDate(windowStart: number): string {
  return new Date(windowStart).toISOString().slice(0, 10);
}

/** The window's label for keys: the date for day-aligned windows, else date + start time (e.g. `2026-12-01T06-00-00Z`). */
export function windowLabel(windowStart: number, windowEnd: number): string {
  const day = 86_400_000;
  if (windowStart % day === 0 && windowEnd - windowStart === day) return windowDate(windowStart);
  return new Date(windowStart).toISOString().slice(0, 19).replace(/:/g, '-') + 'Z';
}

export function orderTotal(order: ReportOrder): number {
  return order.lines.reduce((sum, l) => sum + l.quantity * l.unitPrice, 0);
}

/** The latest status (highest sequence, then latest time); CREATED when none was seen. */
export function currentStatus(order: ReportOrder): ReportStatusChange | undefined {
  return sortedStatuses(order.statuses).at(-1);
}

export function sortedStatuses(statuses: readonly ReportStatusChange[]): ReportStatusChange[] {
  return [...statuses].sort((a, b) => a.sequence - b.sequence || a.at - b.at || a.to.localeCompare(b.to));
}

export function sellersOf(order: ReportOrder): string[] {
  return [...new Set(order.lines.flatMap((l) => (l.sellerId === null ? [] : [l.sellerId])))].sort();
}

/** The window's orders in a fixed order (placedAt, then id): the same input always renders the same bytes. */
export function sortedOrders(report: WindowReport): ReportOrder[] {
  return Object.values(report.orders).sort((a, b) => a.placedAt - b.placedAt || (a.orderId < b.orderId ? -1 : a.orderId > b.orderId ? 1 : 0));
}
