/**
 * Stock's topology. Order lines (split from `order-created`) and releases are re-keyed by
 * productId through internal repartition topics, so that they meet the seller's levels
 * (`stock-levels-topic`, keyed by productId already) in one co-partitioned sub-topology: the task
 * of a product's partition holds its level and every reservation against it.
 *
 *   order-created ──split per line, key productId──▶ <appId>-order-lines-repartition ──┐
 *   stock-release-topic ──key productId──▶ <appId>-stock-releases-repartition ─────────┼─▶ ledger ─▶ stock-response-topic (key orderId)
 *   stock-levels-topic (key productId) ────────────────────────────────────────────────┘   stores: stock-levels, stock-reservations
 *
 * With retention (on by default, ORDER_RETENTION_MS), order-created and order-status-topic also
 * feed an order-keyed tracker whose "order ended" records reach the ledger through
 * `<appId>-stock-order-ended-repartition`: retention.ts.
 */
import { repartitionName, Serdes, StreamsBuilder, type Topology } from '../engine/index.ts';
import type { OrderStatusChanged, StockDecreaseRequestMessage, StockReleaseMessage } from '../../schemas/index.ts';
import { retentionSettings, type RetentionOptions } from '../common/retention.ts';
import {
  ledgerRetentionStore, orderTracker, trackerStores, ORDER_ENDED_REPARTITION, STOCK_ORDERS_STORE, STOCK_ORDER_EXPIRIES_STORE, STOCK_RESERVATION_EXPIRIES_STORE,
  type TrackerEvent,
} from './retention.ts';
import type { Contracts } from '../common/index.ts';
import { stockProcessor, type StockEvent } from './ledger.ts';
import { stockStores, STOCK_LEVELS_STORE, STOCK_RESERVATIONS_STORE } from './stores.ts';
import { validateDecreaseRequest, validateRelease } from './validation.ts';

export { STOCK_LEVELS_STORE, STOCK_RESERVATIONS_STORE } from './stores.ts';
export type { StoredLevel, StoredReservation, ReservationState } from './stores.ts';
export { StockMessages, type StockEvent } from './ledger.ts';
export { InvalidStockInput } from './validation.ts';
export {
  STOCK_ORDERS_STORE, STOCK_ORDER_EXPIRIES_STORE, STOCK_RESERVATION_EXPIRIES_STORE, ORDER_ENDED_REPARTITION, type TrackedOrder,
} from './retention.ts';

export interface StockTopologyOptions {
  /** How long the reservations of an ended order are kept (ORDER_RETENTION_MS); default 7 days, 0 for ever. */
  readonly retention?: RetentionOptions;
}

/** Repartition names as the topology declares them; the topics are `<appId>-<name>`. */
export const ORDER_LINES_REPARTITION = repartitionName('order-lines');
export const STOCK_RELEASES_REPARTITION = repartitionName('stock-releases');

export function stockTopology(contracts: Contracts, options: StockTopologyOptions = {}): Topology {
  const retention = retentionSettings(options.retention);
  const b = new StreamsBuilder();
  for (const store of stockStores()) b.addStateStore(store);

  const created = b.stream(contracts.topic('order-created'), contracts.consumed('order-created'));
  // One single-line StockDecreaseRequestMessage per line: the contract record fits a line exactly.
  const lines = created
    .flatMap((orderId, request) => validateDecreaseRequest(orderId, request).products.map(
      (line): [string, StockDecreaseRequestMessage] => [line.productId, { orderId: request.orderId, products: [line] }],
    ), { name: 'order-created-split-lines' })
    .repartition({ name: 'order-lines', keySerde: Serdes.string(), valueSerde: contracts.record('StockDecreaseRequestMessage') })
    .mapValues((request: StockDecreaseRequestMessage): StockEvent => ({ kind: 'line', request }), { name: 'order-lines-tag' });

  const releases = b.stream(contracts.topic('stock-release-topic'), contracts.consumed('stock-release-topic'))
    .selectKey((orderId, release) => validateRelease(orderId, release).productId, { name: 'stock-release-by-product' })
    .repartition({ name: 'stock-releases', keySerde: Serdes.string(), valueSerde: contracts.record('StockReleaseMessage') })
    .mapValues((release: StockReleaseMessage): StockEvent => ({ kind: 'release', release }), { name: 'stock-releases-tag' });

  const levels = b.stream(contracts.topic('stock-levels-topic'), contracts.consumed('stock-levels-topic'))
    .mapValues((level): StockEvent => ({ kind: 'level', level }), { name: 'stock-levels-tag' });

  // merge() does not declare co-partitioning: the partition of a product must be the same in all three.
  b.copartition(contracts.topic('stock-levels-topic'), ORDER_LINES_REPARTITION, STOCK_RELEASES_REPARTITION);

  let ledgerInput = levels.merge(lines, { name: 'stock-merge-lines' }).merge(releases, { name: 'stock-merge-releases' });
  const ledgerStores = [STOCK_LEVELS_STORE, STOCK_RESERVATIONS_STORE];
  if (retention.enabled) {
    for (const store of [...trackerStores(), ledgerRetentionStore()]) b.addStateStore(store);
    const statuses = b.stream(contracts.topic('order-status-topic'), contracts.consumed('order-status-topic'))
      .mapValues((status): TrackerEvent => ({ kind: 'status', status }), { name: 'stock-order-status-tag' });
    const ended = created
      .mapValues((request): TrackerEvent => ({ kind: 'created', request: validateDecreaseRequest(request.orderId, request) }), { name: 'stock-order-created-tag' })
      .merge(statuses, { name: 'stock-merge-order-status' })
      .process(() => orderTracker(retention), { name: 'stock-order-tracker', stores: [STOCK_ORDERS_STORE, STOCK_ORDER_EXPIRIES_STORE] })
      .repartition({ name: 'stock-order-ended', keySerde: Serdes.string(), valueSerde: contracts.record('OrderStatusChanged') })
      .mapValues((status: OrderStatusChanged): StockEvent => ({ kind: 'ended', ended: status }), { name: 'stock-order-ended-tag' });
    // The tracker's store is keyed by orderId on both of its inputs.
    b.copartition(contracts.topic('order-created'), contracts.topic('order-status-topic'));
    b.copartition(contracts.topic('stock-levels-topic'), ORDER_ENDED_REPARTITION);
    ledgerInput = ledgerInput.merge(ended, { name: 'stock-merge-order-ended' });
    ledgerStores.push(STOCK_RESERVATION_EXPIRIES_STORE);
  }
  ledgerInput
    .process(() => stockProcessor(retention), { name: 'stock-ledger', stores: ledgerStores })
    .to(contracts.topic('stock-response-topic'), { ...contracts.produced('stock-response-topic'), name: 'stock-response-sink' });
  return b.build();
}
