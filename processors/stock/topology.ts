/**
 * Stock's topology. Order lines (split from `order-created`) and releases are re-keyed by
 * productId through internal repartition topics, so that they meet the seller's levels
 * (`stock-levels-topic`, keyed by productId already) in one co-partitioned sub-topology: the task
 * of a product's partition holds its level and every reservation against it.
 *
 *   order-created ──split per line, key productId──▶ <appId>-order-lines-repartition ──┐
 *   stock-release-topic ──key productId──▶ <appId>-stock-releases-repartition ─────────┼─▶ ledger ─▶ stock-response-topic (key orderId)
 *   stock-levels-topic (key productId) ────────────────────────────────────────────────┘   stores: stock-levels, stock-reservations
 */
import { repartitionName, Serdes, StreamsBuilder, type Topology } from '../engine/index.ts';
import type { StockDecreaseRequestMessage, StockReleaseMessage } from '../../schemas/index.ts';
import type { Contracts } from '../common/index.ts';
import { stockProcessor, type StockEvent } from './ledger.ts';
import { stockStores, STOCK_LEVELS_STORE, STOCK_RESERVATIONS_STORE } from './stores.ts';
import { validateDecreaseRequest, validateRelease } from './validation.ts';

export { STOCK_LEVELS_STORE, STOCK_RESERVATIONS_STORE } from './stores.ts';
export type { StoredLevel, StoredReservation, ReservationState } from './stores.ts';
export { StockMessages, type StockEvent } from './ledger.ts';
export { InvalidStockInput } from './validation.ts';

/** Repartition names as the topology declares them; the topics are `<appId>-<name>`. */
export const ORDER_LINES_REPARTITION = repartitionName('order-lines');
export const STOCK_RELEASES_REPARTITION = repartitionName('stock-releases');

export function stockTopology(contracts: Contracts): Topology {
  const b = new StreamsBuilder();
  for (const store of stockStores()) b.addStateStore(store);

  // One single-line StockDecreaseRequestMessage per line: the contract record fits a line exactly.
  const lines = b.stream(contracts.topic('order-created'), contracts.consumed('order-created'))
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
  b.topology.copartition([contracts.topic('stock-levels-topic'), ORDER_LINES_REPARTITION, STOCK_RELEASES_REPARTITION]);

  levels.merge(lines, { name: 'stock-merge-lines' }).merge(releases, { name: 'stock-merge-releases' })
    .process(stockProcessor, { name: 'stock-ledger', stores: [STOCK_LEVELS_STORE, STOCK_RESERVATIONS_STORE] })
    .to(contracts.topic('stock-response-topic'), { ...contracts.produced('stock-response-topic'), name: 'stock-response-sink' });
  return b.build();
}
