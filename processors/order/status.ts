/**
 * The order status machine of DOMAIN.md: what each status means to a buyer, and which moves
 * between statuses are allowed. The order processor applies a change only through `canTransitionTo`;
 * the gateway's status API reads the descriptions, progress and `canCancel` from here.
 */
import type { OrderStatus } from '../../schemas/index.ts';

export interface StatusInfo {
  readonly description: string;
  /** How far along the order is, 0–100, for a progress bar. */
  readonly progressPercentage: number;
  /** Whether the buyer may still cancel (before a payment was asked for). */
  readonly canCancel: boolean;
  /** No further status follows. */
  readonly terminal: boolean;
  readonly next: readonly OrderStatus[];
}

export const ORDER_STATUSES: Readonly<Record<OrderStatus, StatusInfo>> = {
  CREATED: { description: 'Order received; reserving stock', progressPercentage: 10, canCancel: true, terminal: false, next: ['PENDING_PAYMENT', 'CANCELLED'] },
  PENDING_PAYMENT: { description: 'Stock reserved; awaiting payment', progressPercentage: 25, canCancel: true, terminal: false, next: ['PAYMENT_COMPLETED', 'CANCELLED'] },
  PAYMENT_COMPLETED: { description: 'Paid', progressPercentage: 45, canCancel: false, terminal: false, next: ['PREPARING', 'IN_WAREHOUSE', 'REFUND_REQUESTED'] },
  PREPARING: { description: 'Preparing the shipment', progressPercentage: 60, canCancel: false, terminal: false, next: ['SHIPMENT_STARTED', 'REFUND_REQUESTED'] },
  IN_WAREHOUSE: { description: 'Kept in warehouse storage', progressPercentage: 90, canCancel: false, terminal: false, next: ['COMPLETED', 'REFUND_REQUESTED'] },
  SHIPMENT_STARTED: { description: 'Handed to the courier', progressPercentage: 75, canCancel: false, terminal: false, next: ['IN_TRANSIT', 'COMPLETED'] },
  IN_TRANSIT: { description: 'On its way', progressPercentage: 85, canCancel: false, terminal: false, next: ['COMPLETED'] },
  COMPLETED: { description: 'Completed', progressPercentage: 100, canCancel: false, terminal: true, next: [] },
  REFUND_REQUESTED: { description: 'Could not be fulfilled; refunding the payment', progressPercentage: 90, canCancel: false, terminal: false, next: ['REFUNDED'] },
  REFUNDED: { description: 'Refunded', progressPercentage: 100, canCancel: false, terminal: true, next: [] },
  CANCELLED: { description: 'Cancelled', progressPercentage: 100, canCancel: false, terminal: true, next: [] },
};

export function canTransitionTo(from: OrderStatus, to: OrderStatus): boolean {
  return ORDER_STATUSES[from].next.includes(to);
}

export function isTerminal(status: OrderStatus): boolean {
  return ORDER_STATUSES[status].terminal;
}
