/**
 * The reports topology: tumbling windows of order placement time over `order-placed` and
 * `order-status-topic`, suppressed until each window closes, then one `WindowReport` per window
 * on `<appId>-window-reports`, which the uploader (uploader.ts) turns into files in storage.
 *
 *   order-placed ──┐                           global: stock-levels-topic (product → seller)
 *                  ├─▶ collect (store report-orders, key orderId) ──key "all", time placedAt──▶ <appId>-report-orders-repartition (1 partition)
 *   order-status ──┘       └─▶ windowedBy(tumbling, grace).aggregate ─▶ suppress(untilWindowCloses) ─▶ <appId>-window-reports
 *
 * Why the collect step: a status change carries its own time, often a later day than the order.
 * Windows are of *placement* time, so collect keeps each order (as placed, sellers resolved from
 * the stock levels, plus every status change so far) and forwards it stamped with `placedAt`:
 * the window aggregate then files every update of an order under the window it was placed in, and
 * an update arriving after that window closed is dropped as late (the report holds the status at
 * close time). One key and one partition gather a window in one task: the report of a window is
 * one value. Stream time there is the latest placement seen, so a window closes when an order is
 * placed after its end + grace. A shop that goes quiet would then never get yesterday's report
 * (a silent input emits nothing in Kafka Streams), so each collect task that has forwarded
 * nothing for `tickMs` of wall-clock time forwards a tick stamped with the clock: it advances the
 * window stage's stream time and files nothing. A window holding ticks only is not reported.
 */
import {
  Serdes, StreamsBuilder, TimeWindows, Suppressed, BufferConfig, keyValueStore,
  type KeyValueStore, type Processor, type ProcessorContext, type ReadOnlyKeyValueStore, type Topology,
} from '../engine/index.ts';
import type { OrderPlaced, OrderStatusChanged, StockLevel } from '../../schemas/index.ts';
import type { Contracts } from '../common/index.ts';
import type { ReportOrder, WindowReport } from './model.ts';

export const DAY_MS = 86_400_000;
export const REPORT_ORDERS_STORE = 'report-orders';
export const PRODUCT_SELLERS_STORE = 'report-product-sellers';
export const REPORT_WINDOWS_STORE = 'report-windows';
/** Internal topic (the engine names it `<appId>-window-reports`): closed windows for the uploader. */
export const WINDOW_REPORTS = 'window-reports';
/** The one key every order is gathered under for the window aggregate. */
export const ALL = 'all';

export interface ReportWindowOptions {
  readonly windowMs: number;
  readonly graceMs: number;
  /** Wall-clock quiet time after which a collect task sends a tick (0: none; windows close on orders only). */
  readonly tickMs?: number;
}

/** What the window stage gathers: an order, or a collect task's wall-clock tick. */
type Gathered = ReportOrder | { readonly tick: number };

export function windowTopicOf(applicationId: string): string {
  return `${applicationId}-${WINDOW_REPORTS}`;
}

/** What the report refuses: a record it cannot file under an order. Dead-lettered by the engine. */
export class InvalidReportInput extends Error {
  readonly retriable = false;
  constructor(message: string) {
    super(message);
    this.name = 'InvalidReportInput';
  }
}

type Event = { readonly kind: 'placed'; readonly placed: OrderPlaced } | { readonly kind: 'status'; readonly status: OrderStatusChanged };

/** An order as collect keeps it: placed (once seen) and the status changes seen so far. */
interface Collected {
  readonly order?: ReportOrder;
  readonly early: ReportOrder['statuses'];
}

export function reportsTopology(contracts: Contracts, options: ReportWindowOptions): Topology {
  const b = new StreamsBuilder();
  b.addStateStore(keyValueStore<string, Collected>(REPORT_ORDERS_STORE, { keyCodec: Serdes.string(), valueCodec: Serdes.json<Collected>() }));
  b.globalTable(contracts.topic('stock-levels-topic'), { ...contracts.consumed('stock-levels-topic'), name: 'report-stock-levels-source' }, { storeName: PRODUCT_SELLERS_STORE });

  const placed = b.stream(contracts.topic('order-placed'), { ...contracts.consumed('order-placed'), name: 'report-order-placed' })
    .mapValues((placed): Event => ({ kind: 'placed', placed }), { name: 'report-tag-placed' });
  const statuses = b.stream(contracts.topic('order-status-topic'), { ...contracts.consumed('order-status-topic'), name: 'report-order-status' })
    .mapValues((status): Event => ({ kind: 'status', status }), { name: 'report-tag-status' });
  b.copartition(contracts.topic('order-placed'), contracts.topic('order-status-topic'));

  placed.merge(statuses, { name: 'report-merge' })
    .process(() => collector(options.tickMs ?? 0), { name: 'report-collect', stores: [REPORT_ORDERS_STORE, PRODUCT_SELLERS_STORE] })
    .repartition({ name: 'report-orders', partitions: 1, keySerde: Serdes.string(), valueSerde: Serdes.json<Gathered>() })
    .groupByKey({ keySerde: Serdes.string(), valueSerde: Serdes.json<Gathered>() })
    .windowedBy(TimeWindows.ofSizeAndGrace(options.windowMs, options.graceMs))
    .aggregate<{ orders: Record<string, ReportOrder> }>(
      () => ({ orders: {} }),
      (_key, item, agg) => ('tick' in item ? agg : { orders: { ...agg.orders, [item.orderId]: item } }),
      { storeName: REPORT_WINDOWS_STORE, valueSerde: Serdes.json() },
    )
    .suppress(Suppressed.untilWindowCloses(BufferConfig.unbounded()), { name: 'report-until-window-closes' })
    .toStream({ name: 'report-closed-windows' })
    .filter((_k, v) => v !== null && Object.keys(v.orders).length > 0, { name: 'report-drop-empty' })
    .map((k, v): [string, WindowReport] => [String(k.window.start), { windowStart: k.window.start, windowEnd: k.window.end, orders: v!.orders }], { name: 'report-window-value' })
    .to(WINDOW_REPORTS, { keySerde: Serdes.string(), valueSerde: Serdes.json<WindowReport>(), name: 'report-window-sink' });
  b.internalTopic(WINDOW_REPORTS, { partitions: 1 });
  return b.build();
}

function collector(tickMs: number): Processor<string | null, Event, string, Gathered> {
  let ctx: ProcessorContext<string, Gathered>;
  let store: KeyValueStore<string, Collected>;
  let sellers: ReadOnlyKeyValueStore<string, StockLevel>;
  // Wall-clock time of the last forward; a busy task's orders move stream time on by themselves.
  let lastForward = 0;
  return {
    init(c) {
      ctx = c;
      store = c.getStateStore(REPORT_ORDERS_STORE);
      sellers = c.getStateStore<KeyValueStore<string, StockLevel>>(PRODUCT_SELLERS_STORE);
      lastForward = c.currentSystemTime();
      if (tickMs > 0) {
        c.schedule(tickMs, 'wall-clock-time', (now) => {
          if (now - lastForward < tickMs) return;
          lastForward = now;
          ctx.forward({ key: ALL, value: { tick: now }, timestamp: now, headers: {} });
        });
      }
    },
    process(r) {
      const e = r.value;
      const orderId = e.kind === 'placed' ? e.placed.orderId : e.status.orderId;
      if (typeof orderId !== 'string' || orderId === '') throw new InvalidReportInput(`${e.kind} record without an orderId (key ${r.key})`);
      const prior = store.get(orderId) ?? { early: [] };
      let next: Collected;
      if (e.kind === 'placed') {
        if (prior.order) return; // a redelivered order-placed: the first one stands
        const p = e.placed;
        next = {
          early: [],
          order: {
            orderId, customerId: p.customerId, placedAt: p.placedAt, fulfilment: p.fulfilment,
            lines: p.lines.map((l) => ({ productId: l.productId, sellerId: sellers.get(l.productId)?.sellerId ?? null, quantity: l.quantity, unitPrice: l.unitPrice })),
            statuses: prior.early,
          },
        };
      } else {
        const s = e.status;
        const change = { to: s.to, at: s.at, sequence: s.sequence ?? 0, reason: s.reason ?? null };
        const seen = prior.order?.statuses ?? prior.early;
        if (seen.some((x) => x.sequence === change.sequence && x.to === change.to && x.at === change.at)) return; // redelivered
        next = prior.order ? { early: [], order: { ...prior.order, statuses: [...seen, change] } } : { early: [...seen, change] };
      }
      store.put(orderId, next);
      if (next.order) {
        lastForward = ctx.currentSystemTime();
        ctx.forward({ key: ALL, value: next.order, timestamp: next.order.placedAt, headers: {} });
      }
    },
  };
}
