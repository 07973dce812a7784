/**
 * The order saga as a pure function: given an order's state and one event, the new state and the
 * records to emit — or an error saying the event must wait (`NotYetApplicable`, retried with
 * back-off) or must never be applied (`TransitionRejected`, recorded as a dead letter). The
 * processor around it (topology.ts) does the storing, emitting, retrying and timing.
 *
 * Redelivered events are recognised from the order's own state (a line already answered, a
 * payment already settled, a command id already applied) and change nothing.
 *
 * What the saga needs from outside the order (the buyer, from the users table) the processor
 * looks up and passes in (`SagaLookups`), so that a decision depends on its inputs alone.
 */
import type {
  DeliveryAddress, DeliveryStartMessage, Fulfilment, OrderCommand, OrderPlaced, OrderStatus,
  PaymentRefundMessage, PaymentSuccessMessage, StockResponseMessage, TopicValue, User,
} from '../../schemas/index.ts';
import { derivedId } from '../common/index.ts';
import type { OrderEvent } from './envelope.ts';
import { canTransitionTo, ORDER_STATUSES } from './status.ts';

/** Topics the saga writes (besides retries and dead letters). */
export const SAGA_OUTPUTS = [
  'order-status-topic', 'order-created', 'stock-release-topic', 'payment-request-topic', 'delivery-request-topic', 'order-completed-topic',
] as const;
export type SagaOutputTopic = (typeof SAGA_OUTPUTS)[number];
export type SagaOutput = { [T in SagaOutputTopic]: { readonly topic: T; readonly value: TopicValue<T> } }[SagaOutputTopic];

export interface OrderLineState {
  readonly productId: string;
  readonly quantity: number;
  readonly unitPrice: number;
  /** Stock's answer; null until it comes. */
  readonly stock: 'SUCCESS' | 'FAILED' | null;
  /** A release was sent for this line (its reservation is being undone). */
  readonly released: boolean;
}

/** The order table's value: everything the saga needs to decide the next step. */
export interface OrderState {
  readonly orderId: string;
  readonly customerId: string;
  readonly status: OrderStatus;
  readonly fulfilment: Fulfilment;
  readonly delivery: DeliveryAddress | null;
  /** One per product (lines of the same product are merged). */
  readonly lines: readonly OrderLineState[];
  readonly totalAmount: number;
  readonly placedEventId: string;
  readonly placedAt: number;
  /** Every status change so far; numbers the status events. */
  readonly version: number;
  readonly updatedAt: number;
  /** When the order entered PENDING_PAYMENT (the payment deadline counts from here). */
  readonly awaitingPaymentSince: number | null;
  readonly payment: { readonly paymentKey: string; readonly amount: number; readonly commandId: string } | null;
  readonly paymentOutcome: 'SUCCESS' | 'FAILED' | null;
  readonly refundOutcome: 'SUCCESS' | 'FAILED' | null;
  readonly deliveryId: string | null;
  readonly reason: string | null;
  /** Ids of commands already applied (a command is applied once). */
  readonly commands: readonly string[];
}

export interface Decision {
  readonly state: OrderState;
  readonly outputs: readonly SagaOutput[];
}

/** Facts from outside the order, looked up by the processor before it decides. */
export interface SagaLookups {
  /**
   * For an OrderPlaced: the buyer as the users table has them, undefined when the table has no
   * such user (yet). Not consulted for other events.
   */
  readonly customer: User | undefined;
}

export interface SagaClock {
  /** Wall-clock time of the decision, ms since the epoch. */
  readonly now: number;
}

/** The event came too early for the order's status (e.g. PAY before stock answered): retry later. */
export class NotYetApplicable extends Error {
  override readonly name = 'NotYetApplicable';
  constructor(readonly orderId: string, message: string) {
    super(`order ${orderId}: ${message}`);
  }
}

/** The event asks for something the order's status does not allow: never applied, recorded. */
export class TransitionRejected extends Error {
  override readonly name = 'TransitionRejected';
  constructor(readonly orderId: string, message: string) {
    super(`order ${orderId}: ${message}`);
  }
}

/** Applies one event to an order (absent before its OrderPlaced). */
export function decide(state: OrderState | undefined, event: OrderEvent, clock: SagaClock, lookups: SagaLookups): Decision {
  switch (event.topic) {
    case 'order-placed': return placed(state, event.value, lookups.customer, clock);
    case 'order-command-topic': return command(existing(state, event.value.orderId, 'command'), event.value, clock);
    case 'stock-response-topic': return stockResponse(existing(state, event.value.orderId, 'stock response'), event.value, clock);
    case 'payment-success-topic': return paymentOutcome(known(state, event.value.orderId, 'payment outcome'), event.value, clock);
    case 'payment-refund-topic': return refundOutcome(known(state, event.value.orderId, 'refund outcome'), event.value, clock);
    case 'delivery-start-topic': return deliveryStarted(known(state, event.value.orderId, 'delivery answer'), event.value, clock);
  }
}

/** An unpaid order whose deadline passed is cancelled and its stock released; otherwise nothing. */
export function expire(state: OrderState, deadlineMs: number, clock: SagaClock): Decision | undefined {
  if (state.status !== 'PENDING_PAYMENT' || state.payment !== null || state.awaitingPaymentSince === null) return undefined;
  if (state.awaitingPaymentSince + deadlineMs > clock.now) return undefined;
  return cancel(new Step(state, clock), 'PAYMENT_TIMEOUT', `not paid within ${deadlineMs} ms`).done();
}

// ---------------------------------------------------------------------------------------------

/** Builds one decision: status changes and outputs accumulate on a copy of the state. */
class Step {
  state: OrderState;
  readonly outputs: SagaOutput[] = [];

  constructor(state: OrderState, private readonly clock: SagaClock) {
    this.state = { ...state, updatedAt: clock.now };
  }

  to(status: OrderStatus, reason: string | null = null): this {
    const from = this.state.status;
    if (!canTransitionTo(from, status)) throw new TransitionRejected(this.state.orderId, `${from} → ${status} is not an allowed transition`);
    this.change(from, status, reason);
    return this;
  }

  change(from: OrderStatus | null, to: OrderStatus, reason: string | null): void {
    const version = this.state.version + 1;
    this.state = {
      ...this.state, status: to, version, reason: reason ?? this.state.reason,
      awaitingPaymentSince: to === 'PENDING_PAYMENT' ? this.clock.now : this.state.awaitingPaymentSince,
    };
    this.emit({
      topic: 'order-status-topic',
      value: { eventId: derivedId(this.state.orderId, 'status', version), orderId: this.state.orderId, from, to, reason, at: this.clock.now, sequence: version },
    });
  }

  emit(output: SagaOutput): this {
    this.outputs.push(output);
    return this;
  }

  patch(changes: Partial<OrderState>): this {
    this.state = { ...this.state, ...changes };
    return this;
  }

  done(): Decision {
    return { state: this.state, outputs: this.outputs };
  }
}

const unchanged = (state: OrderState): Decision => ({ state, outputs: [] });

function existing(state: OrderState | undefined, orderId: string, what: string): OrderState {
  // Commands and stock answers can overtake the order they are about (they travel other topics).
  if (state === undefined) throw new NotYetApplicable(orderId, `${what} for an order not placed (yet)`);
  return state;
}

function known(state: OrderState | undefined, orderId: string, what: string): OrderState {
  // Payment and delivery only ever answer requests this processor made: no order, no request.
  if (state === undefined) throw new TransitionRejected(orderId, `${what} for an unknown order`);
  return state;
}

function placed(state: OrderState | undefined, order: OrderPlaced, customer: User | undefined, clock: SagaClock): Decision {
  if (state !== undefined) {
    if (state.placedEventId === order.eventId) return unchanged(state);
    throw new TransitionRejected(order.orderId, `placed again by event ${order.eventId}; the order exists (${state.status})`);
  }
  const problems = checkPlaced(order);
  if (problems.length > 0) throw new TransitionRejected(order.orderId, `invalid order: ${problems.join('; ')}`);
  // A fresh signup may not have reached this processor's users table yet: wait, like any early event.
  if (customer === undefined) throw new NotYetApplicable(order.orderId, `customer ${order.customerId} is not (yet) a known user`);
  if (customer.role !== 'BUYER') throw new TransitionRejected(order.orderId, `customer ${order.customerId} is a ${customer.role}, not a BUYER: only buyers place orders`);
  const merged = new Map<string, { quantity: number; unitPrice: number }>();
  for (const l of order.lines) {
    const m = merged.get(l.productId);
    merged.set(l.productId, { quantity: (m?.quantity ?? 0) + l.quantity, unitPrice: l.unitPrice });
  }
  const lines = [...merged].map(([productId, l]) => ({ productId, ...l, stock: null, released: false }));
  const initial: OrderState = {
    orderId: order.orderId, customerId: order.customerId, status: 'CREATED', fulfilment: order.fulfilment, delivery: recipient(order.delivery ?? null, customer),
    lines, totalAmount: order.lines.reduce((sum, l) => sum + l.quantity * l.unitPrice, 0),
    placedEventId: order.eventId, placedAt: order.placedAt, version: 0, updatedAt: clock.now, awaitingPaymentSince: null,
    payment: null, paymentOutcome: null, refundOutcome: null, deliveryId: null, reason: null, commands: [],
  };
  const step = new Step(initial, clock);
  step.change(null, 'CREATED', null);
  return step.emit({
    topic: 'order-created',
    value: { orderId: order.orderId, products: lines.map((l) => ({ productId: l.productId, quantity: l.quantity })) },
  }).done();
}

function checkPlaced(order: OrderPlaced): string[] {
  const problems: string[] = [];
  if (order.lines.length === 0) problems.push('no lines');
  order.lines.forEach((l, i) => {
    if (!(l.quantity > 0)) problems.push(`lines[${i}].quantity must be positive, is ${l.quantity}`);
    if (!(l.unitPrice >= 0)) problems.push(`lines[${i}].unitPrice must not be negative, is ${l.unitPrice}`);
  });
  if (order.fulfilment === 'DELIVERY' && (order.delivery ?? null) === null) problems.push('DELIVERY needs a delivery address');
  return problems;
}

/**
 * The recipient defaults to the buyer: an empty name or phone is taken from their profile (the
 * phone only if the profile has one). Kept in the order state, so that the delivery request
 * built later carries what was decided here, whatever the profile says by then.
 */
function recipient(delivery: DeliveryAddress | null, buyer: User): DeliveryAddress | null {
  if (delivery === null) return null;
  const blank = (s: string) => s.trim() === '';
  return {
    ...delivery,
    name: blank(delivery.name) ? buyer.name : delivery.name,
    phone: blank(delivery.phone) ? buyer.phone ?? delivery.phone : delivery.phone,
  };
}

function stockResponse(state: OrderState, response: StockResponseMessage, clock: SagaClock): Decision {
  const line = state.lines.find((l) => l.productId === response.productId);
  if (line === undefined) throw new TransitionRejected(state.orderId, `stock answered for product ${response.productId}, which the order does not have`);
  if (line.stock !== null) {
    if (line.stock === response.status) return unchanged(state);
    throw new TransitionRejected(state.orderId, `stock answered ${response.status} for product ${response.productId}, after ${line.stock}`);
  }
  const step = new Step(state, clock).patch({ lines: state.lines.map((l) => (l === line ? { ...l, stock: response.status } : l)) });
  if (state.status === 'CREATED') {
    if (response.status === 'FAILED') return cancel(step, 'OUT_OF_STOCK', `out of stock: ${response.message}`).done();
    if (step.state.lines.every((l) => l.stock === 'SUCCESS')) return step.to('PENDING_PAYMENT').done();
    return step.done();
  }
  // The order was cancelled before this line was answered: a reservation made meanwhile goes back.
  if (state.status === 'CANCELLED') return response.status === 'SUCCESS' ? release(step, 'CANCELLED').done() : step.done();
  throw new TransitionRejected(state.orderId, `stock answer for product ${response.productId} while ${state.status}`);
}

function command(state: OrderState, cmd: OrderCommand, clock: SagaClock): Decision {
  if (state.commands.includes(cmd.commandId)) return unchanged(state);
  if (cmd.customerId !== state.customerId) throw new TransitionRejected(state.orderId, `${cmd.type} by customer ${cmd.customerId}, not the order's buyer`);
  const step = new Step(state, clock).patch({ commands: [...state.commands, cmd.commandId].slice(-20) });
  if (cmd.type === 'CANCEL') {
    // Already cancelled (out of stock, say, while the buyer's CANCEL waited): what was asked for holds.
    if (state.status === 'CANCELLED') return step.done();
    if (!cancellable(state)) throw new TransitionRejected(state.orderId, `CANCEL while ${state.status}${state.status === 'PENDING_PAYMENT' && state.payment ? ' with a payment under way' : ''}: cannot be cancelled`);
    return cancel(step, 'CANCELLED_BY_BUYER', cmd.reason ? `cancelled by the buyer: ${cmd.reason}` : 'cancelled by the buyer').done();
  }
  if (state.status === 'CREATED') throw new NotYetApplicable(state.orderId, 'PAY while stock is still being reserved');
  if (state.status !== 'PENDING_PAYMENT') throw new TransitionRejected(state.orderId, `PAY while ${state.status}: only PENDING_PAYMENT can be paid`);
  if (state.payment !== null) {
    if (state.payment.paymentKey === cmd.paymentKey) return unchanged(state);
    throw new TransitionRejected(state.orderId, `PAY with ${String(cmd.paymentKey)}: a payment with ${state.payment.paymentKey} is under way`);
  }
  if (cmd.paymentKey === null || cmd.paymentKey === undefined || cmd.paymentKey === '') throw new TransitionRejected(state.orderId, 'PAY without a paymentKey');
  if (cmd.amount !== state.totalAmount) throw new TransitionRejected(state.orderId, `PAY of ${String(cmd.amount)}, but the order's total is ${state.totalAmount}`);
  return step.patch({ payment: { paymentKey: cmd.paymentKey, amount: cmd.amount, commandId: cmd.commandId } })
    .emit(paymentRequest(state, cmd.paymentKey, 'CHARGE', cmd.commandId, clock)).done();
}

function cancellable(state: OrderState): boolean {
  return ORDER_STATUSES[state.status].canCancel && state.payment === null;
}

function refundOutcome(state: OrderState, outcome: PaymentRefundMessage, clock: SagaClock): Decision {
  if (state.refundOutcome !== null) {
    if (state.refundOutcome === outcome.status) return unchanged(state);
    throw new TransitionRejected(state.orderId, `refund ${outcome.status} after ${state.refundOutcome}`);
  }
  if (state.status !== 'REFUND_REQUESTED') throw new TransitionRejected(state.orderId, `refund outcome while ${state.status}`);
  // A failed refund stays REFUND_REQUESTED: money is owed; the dead letter tells a person.
  if (outcome.status === 'FAILED') throw new TransitionRejected(state.orderId, `refund of ${outcome.amount} with ${outcome.paymentKey} failed: ${outcome.reason ?? 'no reason given'}`);
  return new Step(state, clock).patch({ refundOutcome: outcome.status }).to('REFUNDED', state.reason).done();
}

function paymentOutcome(state: OrderState, outcome: PaymentSuccessMessage, clock: SagaClock): Decision {
  const step = new Step(state, clock);
  if (state.paymentOutcome !== null) {
    if (state.paymentOutcome === outcome.status) return unchanged(state);
    throw new TransitionRejected(state.orderId, `payment ${outcome.status} after ${state.paymentOutcome}`);
  }
  if (state.payment === null || state.payment.paymentKey !== outcome.paymentKey) {
    throw new TransitionRejected(state.orderId, `payment outcome for ${outcome.paymentKey}, which this order did not request`);
  }
  step.patch({ paymentOutcome: outcome.status });
  if (outcome.status === 'FAILED') return cancel(step, 'PAYMENT_FAILED', 'payment failed').done();
  step.to('PAYMENT_COMPLETED');
  if (state.fulfilment === 'WAREHOUSE') return complete(step.to('IN_WAREHOUSE'), null).done();
  const address = state.delivery!;
  return step.to('PREPARING').emit({ topic: 'delivery-request-topic', value: { orderId: state.orderId, customerId: state.customerId, ...address } }).done();
}

function deliveryStarted(state: OrderState, answer: DeliveryStartMessage, clock: SagaClock): Decision {
  if (state.deliveryId !== null) {
    if (state.deliveryId === answer.deliveryId) return unchanged(state);
    throw new TransitionRejected(state.orderId, `second delivery ${answer.deliveryId}; delivery ${state.deliveryId} answered already`);
  }
  if (state.status !== 'PREPARING') throw new TransitionRejected(state.orderId, `delivery ${answer.status} while ${state.status}`);
  const step = new Step(state, clock).patch({ deliveryId: answer.deliveryId });
  if (answer.status === 'STARTED') return complete(step.to('SHIPMENT_STARTED'), answer.deliveryId).done();
  step.to('REFUND_REQUESTED', 'DELIVERY_FAILED: delivery could not start');
  return release(step, 'DELIVERY_FAILED').emit(paymentRequest(state, state.payment!.paymentKey, 'REFUND', answer.deliveryId, clock)).done();
}

function complete(step: Step, deliveryId: string | null): Step {
  const s = step.to('COMPLETED').state;
  return step.emit({
    topic: 'order-completed-topic',
    value: {
      eventId: derivedId(s.orderId, 'completed'), orderId: s.orderId, customerId: s.customerId, totalAmount: s.totalAmount,
      paymentKey: s.payment?.paymentKey ?? '', itemCount: s.lines.reduce((n, l) => n + l.quantity, 0),
      fulfilment: s.fulfilment, deliveryId, completedAt: s.updatedAt,
    },
  });
}

function cancel(step: Step, code: string, detail: string): Step {
  return release(step.to('CANCELLED', `${code}: ${detail}`), code);
}

/** Compensation: one release per reserved line not released yet. */
function release(step: Step, reason: string): Step {
  const s = step.state;
  for (const l of s.lines) {
    if (l.stock !== 'SUCCESS' || l.released) continue;
    step.emit({ topic: 'stock-release-topic', value: { orderId: s.orderId, productId: l.productId, quantity: l.quantity, reason } });
  }
  return step.patch({ lines: s.lines.map((l) => (l.stock === 'SUCCESS' ? { ...l, released: true } : l)) });
}

function paymentRequest(state: OrderState, paymentKey: string, kind: 'CHARGE' | 'REFUND', cause: string, clock: SagaClock): SagaOutput {
  return {
    topic: 'payment-request-topic',
    value: {
      eventId: derivedId(state.orderId, 'payment', kind, cause), orderId: state.orderId, paymentKey, amount: state.totalAmount,
      customerId: state.customerId, requestedAt: clock.now, kind,
    },
  };
}
