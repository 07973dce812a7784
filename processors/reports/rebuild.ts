/**
 * Rebuilding past windows on demand (`npm run report -- --from … --to …`): reads order-placed,
 * order-status-topic and stock-levels-topic from the beginning with a throw-away consumer group,
 * replays them in timestamp order through the same rules as the topology's collect step, and
 * stores each window between `from` and `to` with the uploader's `storeWindow` — the same
 * rendering, hence the same keys and bytes as the live processor wrote.
 *
 * Why not the streaming topology under a new application id: replaying three partitions at once
 * interleaves them out of time order, and the one-partition window stage would close a window as
 * soon as any later order got through first. A batch sorted by time has no such race.
 * A status change counts for its order's window if it happened before the window closed
 * (end + grace); the live processor closes a window when the first order after end + grace arrives.
 */
import { randomUUID } from 'node:crypto';
import type { ConsumedRecord, Transport } from '../../transports/index.ts';
import { valueSerdeOf, type Contracts } from '../common/index.ts';
import type { OrderPlaced, OrderStatusChanged, StockLevel } from '../../schemas/index.ts';
import type { ReportOrder, WindowReport } from './model.ts';
import type { ReportStorage } from './storage.ts';
import type { ReportWindowOptions } from './topology.ts';
import { storeWindow } from './uploader.ts';

export interface RebuildOptions {
  readonly transport: Transport;
  readonly contracts: Contracts;
  readonly storage: ReportStorage;
  readonly windows: ReportWindowOptions;
  /** Windows starting at or after `fromMs` and before `toMs`. */
  readonly fromMs: number;
  readonly toMs: number;
  /** Called as records are read and windows stored. */
  readonly onProgress?: (p: { phase: 'read' | 'store'; done: number; total: number }) => void;
  /** Stop reading after this long without a new batch once every partition seen reached its end (default 1000 ms). */
  readonly idleMs?: number;
}

export type ReplayEvent =
  | { readonly kind: 'level'; readonly at: number; readonly level: StockLevel }
  | { readonly kind: 'placed'; readonly at: number; readonly placed: OrderPlaced }
  | { readonly kind: 'status'; readonly at: number; readonly status: OrderStatusChanged };

/** Pure: events (any order) → the windows they make, as the topology files them. */
export function assembleWindows(events: readonly ReplayEvent[], windows: ReportWindowOptions): WindowReport[] {
  const sorted = [...events].sort((a, b) => a.at - b.at);
  const sellers = new Map<string, string>();
  const orders = new Map<string, ReportOrder>();
  const early = new Map<string, ReportOrder['statuses'][number][]>();
  const windowStart = (t: number) => Math.floor(t / windows.windowMs) * windows.windowMs;
  for (const e of sorted) {
    if (e.kind === 'level') { sellers.set(e.level.productId, e.level.sellerId); continue; }
    if (e.kind === 'placed') {
      const p = e.placed;
      if (orders.has(p.orderId)) continue;
      orders.set(p.orderId, {
        orderId: p.orderId, customerId: p.customerId, placedAt: p.placedAt, fulfilment: p.fulfilment,
        lines: p.lines.map((l) => ({ productId: l.productId, sellerId: sellers.get(l.productId) ?? null, quantity: l.quantity, unitPrice: l.unitPrice })),
        statuses: early.get(p.orderId) ?? [],
      });
      early.delete(p.orderId);
      continue;
    }
    const s = e.status;
    const change = { to: s.to, at: s.at, sequence: s.sequence ?? 0, reason: s.reason ?? null };
    const order = orders.get(s.orderId);
    if (!order) { early.set(s.orderId, [...(early.get(s.orderId) ?? []), change]); continue; }
    const closesAt = windowStart(order.placedAt) + windows.windowMs + windows.graceMs;
    if (e.at >= closesAt) continue; // after the window closed: not in its report
    if (order.statuses.some((x) => x.sequence === change.sequence && x.to === change.to && x.at === change.at)) continue;
    orders.set(s.orderId, { ...order, statuses: [...order.statuses, change] });
  }
  const by = new Map<number, Record<string, ReportOrder>>();
  for (const o of orders.values()) {
    const start = windowStart(o.placedAt);
    const w = by.get(start) ?? {};
    w[o.orderId] = o;
    by.set(start, w);
  }
  return [...by.entries()].sort(([a], [b]) => a - b).map(([start, os]) => ({ windowStart: start, windowEnd: start + windows.windowMs, orders: os }));
}

/** Reads the topics whole; resolves with the events. */
export async function readEvents(options: Pick<RebuildOptions, 'transport' | 'contracts' | 'onProgress' | 'idleMs'>): Promise<ReplayEvent[]> {
  const { transport, contracts } = options;
  const names = { placed: contracts.topic('order-placed'), status: contracts.topic('order-status-topic'), level: contracts.topic('stock-levels-topic') };
  const serdes = {
    [names.placed]: (r: ConsumedRecord) => Promise.resolve(valueSerdeOf(contracts, 'order-placed').deserialize(r.topic, r.value!)).then((placed): ReplayEvent => ({ kind: 'placed', at: r.timestamp, placed })),
    [names.status]: (r: ConsumedRecord) => Promise.resolve(valueSerdeOf(contracts, 'order-status-topic').deserialize(r.topic, r.value!)).then((status): ReplayEvent => ({ kind: 'status', at: r.timestamp, status })),
    [names.level]: (r: ConsumedRecord) => Promise.resolve(valueSerdeOf(contracts, 'stock-levels-topic').deserialize(r.topic, r.value!)).then((level): ReplayEvent => ({ kind: 'level', at: r.timestamp, level })),
  };
  const groupId = `reports-rebuild-${randomUUID()}`;
  const consumer = transport.consumer({ groupId, topics: Object.values(names), autoOffsetReset: 'earliest', maxBatchSize: 500 });
  const events: ReplayEvent[] = [];
  const ends = new Map<string, { read: number; end: number }>();
  let lastBatch = Date.now();
  await consumer.connect();
  await consumer.run(async (batch) => {
    lastBatch = Date.now();
    for (const r of batch.records) {
      if (r.value !== null && r.headers['orderstream.marker'] === undefined) events.push(await serdes[r.topic]!(r));
    }
    const last = batch.records.at(-1);
    ends.set(`${batch.topic}/${batch.partition}`, { read: last ? last.offset + 1 : 0, end: batch.highWatermark ?? (last ? last.offset + 1 : 0) });
    const total = [...ends.values()].reduce((n, p) => n + p.end, 0);
    options.onProgress?.({ phase: 'read', done: events.length, total: Math.max(total, events.length) });
  });
  const idleMs = options.idleMs ?? 1000;
  try {
    for (;;) {
      await new Promise((r) => setTimeout(r, 50));
      const caughtUp = [...ends.values()].every((p) => p.read >= p.end);
      if (caughtUp && Date.now() - lastBatch >= idleMs) break;
    }
  } finally {
    await consumer.disconnect();
    await transport.admin().deleteGroups([groupId]).catch(() => undefined);
  }
  return events;
}

/** Rebuilds and stores the windows in [fromMs, toMs); resolves with what was stored. */
export async function rebuildWindows(options: RebuildOptions): Promise<WindowReport[]> {
  const events = await readEvents(options);
  const windows = assembleWindows(events, options.windows).filter((w) => w.windowStart >= options.fromMs && w.windowStart < options.toMs);
  let done = 0;
  for (const w of windows) {
    await storeWindow(options.storage, w);
    options.onProgress?.({ phase: 'store', done: ++done, total: windows.length });
  }
  return windows;
}
