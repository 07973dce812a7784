/** How amounts, times and statuses read on the page. */

const money = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD' });

/** Prices are integers in minor units (cents). */
export function formatMoney(minor) {
  return money.format(minor / 100);
}

const time = new Intl.DateTimeFormat('en-US', { hour: '2-digit', minute: '2-digit', second: '2-digit' });
const dateTime = new Intl.DateTimeFormat('en-US', { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });

export function formatTime(iso) {
  return iso ? time.format(new Date(iso)) : '';
}

export function formatDateTime(iso) {
  return iso ? dateTime.format(new Date(iso)) : '';
}

export function shortId(id) {
  return id.slice(0, 8);
}

/** Status names as a buyer reads them; the API's statusDescription says more. */
export const STATUS_LABELS = {
  CREATED: 'Created',
  PENDING_PAYMENT: 'Awaiting payment',
  PAYMENT_COMPLETED: 'Paid',
  PREPARING: 'Preparing',
  IN_WAREHOUSE: 'In warehouse',
  SHIPMENT_STARTED: 'Shipped',
  IN_TRANSIT: 'In transit',
  COMPLETED: 'Completed',
  REFUND_REQUESTED: 'Refund requested',
  REFUNDED: 'Refunded',
  CANCELLED: 'Cancelled',
};

export const TERMINAL = new Set(['COMPLETED', 'REFUNDED', 'CANCELLED']);

/** The board's columns: the saga's statuses grouped by what the buyer is waiting for. */
export const BOARD_COLUMNS = [
  { id: 'placed', title: 'Placed', statuses: ['CREATED', 'PENDING_PAYMENT'] },
  { id: 'paid', title: 'Paid & preparing', statuses: ['PAYMENT_COMPLETED', 'PREPARING', 'IN_WAREHOUSE'] },
  { id: 'shipping', title: 'On its way', statuses: ['SHIPMENT_STARTED', 'IN_TRANSIT'] },
  { id: 'done', title: 'Completed', statuses: ['COMPLETED'] },
  { id: 'closed', title: 'Cancelled & refunded', statuses: ['CANCELLED', 'REFUND_REQUESTED', 'REFUNDED'] },
];

export function columnOf(status) {
  return BOARD_COLUMNS.find((c) => c.statuses.includes(status)) ?? BOARD_COLUMNS[0];
}
