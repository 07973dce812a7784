/**
 * What a reader shows of an order's status: DOMAIN.md's `GET /orders/{id}/status` body, also the
 * payload of the gateway's status pushes. Descriptions, progress and `canCancel` come from the
 * order processor's status machine, so the two never disagree.
 */
import type { OrderStatus } from '../../schemas/index.ts';
import { ORDER_STATUSES } from '../order/status.ts';
import type { OrderView } from './views.ts';

export interface OrderStatusView {
  readonly orderId: string;
  readonly status: OrderStatus;
  readonly statusDescription: string;
  readonly progressPercentage: number;
  readonly canCancel: boolean;
  /** ISO-8601, UTC. */
  readonly lastUpdated: string;
}

export function orderStatusView(view: OrderView): OrderStatusView {
  // A view has a status once its order was placed or its first status event came; CREATED before.
  return statusView(view.orderId, view.status ?? 'CREATED', view.lastUpdated);
}

/** The same body for an order in `status` since `at` (ms): a status event pushed as it happens. */
export function statusView(orderId: string, status: OrderStatus, at: number): OrderStatusView {
  const info = ORDER_STATUSES[status];
  return {
    orderId,
    status,
    statusDescription: info.description,
    progressPercentage: info.progressPercentage,
    canCancel: info.canCancel,
    lastUpdated: new Date(at).toISOString(),
  };
}
