/**
 * The read-model projection: the one writer of the views the gateway reads (views.ts), fed by
 * order-placed, order-status-topic, chat-topic and the stock processor's level changelog.
 */
export { startProjection, UndecodableRecordError, type ProjectionOptions, type RunningProjection } from './projector.ts';
export { orderStatusView, statusView, type OrderStatusView } from './status-view.ts';
export {
  projectOrderPlaced, projectStatusChanged, projectChatMessage, projectStockLevel, sequenceOf,
  NO_CHANGE, DELETE, type NoChange, type Delete,
} from './projection.ts';
export { ViewWriter, WriteConflictError, type ProjectionInput, type ApplyOutcome } from './writer.ts';
export {
  ORDERS_VIEW, STOCK_VIEW, CHAT_VIEW, PRODUCTS_COLLECTION,
  type OrderView, type OrderViewLine, type TimelineEntry, type StockView, type ChatView, type ProductDoc,
} from './views.ts';
