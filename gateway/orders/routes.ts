/**
 * Orders. The gateway never writes order state: placing, paying and cancelling each produce one
 * event and answer 202 once the broker acknowledged it; reads come from the `orders` read model.
 * Unit prices come from the catalogue, never from the client.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { derivedId } from '../../processors/common/ids.ts';
import type { OrderView } from '../../processors/read-model/views.ts';
import type { OrderCommand, OrderPlaced } from '../../schemas/index.ts';
import type { Principal } from '../auth/tokens.ts';
import type { GatewayContext } from '../context.ts';
import { badRequest, conflict, notFound, unprocessable } from '../errors.ts';
import { decodeCursor, encodeCursor, page, PageQuery } from '../pagination.ts';
import { route, type Call, type RouteSpec } from '../routing.ts';
import { visibleOrder } from './access.ts';
import { orderStatusView } from '../../processors/read-model/status-view.ts';
import { OrderStatusBody } from './status.ts';

const MAX_LINES = 50;
// No regex flags: zod-to-openapi writes a flagged regex's `/i` into the document's pattern,
// which then matches nothing; the character classes carry the case-insensitivity instead.
const Uuid = z.string().regex(/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/, { error: 'must be a UUID' });
const Text = (max: number) => z.string().trim().max(max, { error: `must be at most ${max} characters` });
const Required = (max: number) => Text(max).min(1, { error: 'must not be empty' });

const Line = z.strictObject({
  productId: Uuid,
  quantity: z.number({ error: 'must be a positive integer' }).int({ error: 'must be a positive integer' }).positive({ error: 'must be a positive integer' }).max(10_000, { error: 'must be at most 10000' }),
});
const Delivery = z.strictObject({
  address: Required(300), addressDetail: Text(300).optional(), zipcode: Required(20),
  name: Text(100).optional().openapi({ description: 'Recipient; the buyer\'s profile name when omitted' }),
  phone: Text(40).optional().openapi({ description: 'Recipient\'s phone; the buyer\'s profile phone when omitted' }),
  deliveryMemo: Text(500).optional(),
}).openapi('DeliveryAddress');

export const PlaceOrder = z.strictObject({
  lines: z.array(Line, { error: 'must be an array' }).min(1, { error: 'must have at least one line' }).max(MAX_LINES, { error: `must have at most ${MAX_LINES} lines` }),
  fulfilment: z.enum(['DELIVERY', 'WAREHOUSE'], { error: 'must be DELIVERY or WAREHOUSE' }),
  delivery: Delivery.optional(),
}).superRefine((o, ctx) => {
  const seen = new Map<string, number>();
  o.lines.forEach((l, i) => {
    if (seen.has(l.productId.toLowerCase())) ctx.addIssue({ code: 'custom', path: ['lines', i, 'productId'], message: `repeats lines[${seen.get(l.productId.toLowerCase())}]; one line per product` });
    seen.set(l.productId.toLowerCase(), i);
  });
  if (o.fulfilment === 'DELIVERY' && !o.delivery) ctx.addIssue({ code: 'custom', path: ['delivery'], message: 'is required when fulfilment is DELIVERY' });
  if (o.fulfilment === 'WAREHOUSE' && o.delivery) ctx.addIssue({ code: 'custom', path: ['delivery'], message: 'must be absent when fulfilment is WAREHOUSE' });
}).openapi('PlaceOrderRequest');

const Pay = z.strictObject({
  paymentKey: Required(200),
  amount: z.number({ error: 'must be a positive integer' }).int({ error: 'must be a positive integer' }).positive({ error: 'must be a positive integer' }).max(2_000_000_000),
}).openapi('PayRequest');
const Cancel = z.strictObject({ reason: Text(500).optional() }).openapi('CancelRequest');
// UUIDs are case-insensitive; ids are stored and pushed in lower case.
const OrderParams = z.object({ id: z.string().max(100).transform((id) => id.toLowerCase()) });

const Accepted = z.object({
  orderId: z.uuid(), status: z.literal('CREATED'), websocketTopic: z.string(), statusCheckUrl: z.string(),
}).openapi('OrderAccepted');
const CommandAccepted = z.object({ orderId: z.uuid(), commandId: z.uuid(), status: z.literal('ACCEPTED') }).openapi('CommandAccepted');
const TimelineItem = z.object({ from: z.string().nullable(), to: z.string(), reason: z.string().nullable(), at: z.string(), sequence: z.number().int() });
export const OrderDetail = z.object({
  orderId: z.uuid(), customerId: z.uuid(), sellerIds: z.array(z.uuid()),
  lines: z.array(z.object({ productId: z.uuid(), name: z.string().nullable(), sellerId: z.uuid().nullable(), quantity: z.number().int(), unitPrice: z.number().int(), subtotal: z.number().int() })),
  total: z.number().int(), fulfilment: z.string().nullable(),
  delivery: z.object({ address: z.string(), addressDetail: z.string(), zipcode: z.string(), phone: z.string(), name: z.string(), deliveryMemo: z.string() }).nullable(),
  status: OrderStatusBody, timeline: z.array(TimelineItem), placedAt: z.string().nullable(),
}).openapi('Order');
const OrderPage = z.object({ items: z.array(OrderDetail), nextCursor: z.string().nullable() }).openapi('OrderPage');

export function orderDetail(v: OrderView) {
  return {
    orderId: v.orderId, customerId: v.customerId!, sellerIds: [...v.sellerIds],
    lines: v.lines.map((l) => ({ productId: l.productId, name: l.name, sellerId: l.sellerId, quantity: l.quantity, unitPrice: l.unitPrice, subtotal: l.quantity * l.unitPrice })),
    total: v.total, fulfilment: v.fulfilment, delivery: v.delivery,
    status: orderStatusView(v),
    timeline: v.timeline.map((t) => ({ from: t.from, to: t.to, reason: t.reason, at: new Date(t.at).toISOString(), sequence: t.sequence })),
    placedAt: v.placedAt === null ? null : new Date(v.placedAt).toISOString(),
  };
}

export function orderRoutes(g: GatewayContext): RouteSpec[] {
  const find = async (principal: Principal, orderId: string) => {
    const order = await visibleOrder(g.db, principal, orderId, g.recentOrders.has(orderId) ? g.readYourWritesMs : 0);
    if (!order) throw notFound('order');
    return order;
  };
  const commandId = (call: Call<unknown, unknown, unknown>, orderId: string, type: string) => {
    const key = call.header('idempotency-key');
    return key === undefined ? randomUUID() : derivedId('command', call.principal!.userId, orderId, type, key);
  };
  /** One OrderCommand on order-command-topic, acknowledged; the 202 body. */
  const command = async (call: Call<unknown, unknown, unknown>, orderId: string, c: Pick<OrderCommand, 'type' | 'paymentKey' | 'amount' | 'reason'>) => {
    const id = commandId(call, orderId, c.type);
    await g.events.publish('order-command-topic', { commandId: id, orderId, customerId: call.principal!.userId, ...c, issuedAt: g.now() });
    return { status: 202, body: { orderId, commandId: id, status: 'ACCEPTED' } };
  };
  const listed = async (filter: Parameters<typeof g.db.orders.find>[0], query: z.infer<typeof PageQuery>) => {
    const after = decodeCursor(query.cursor);
    const found = await g.db.orders.find(filter, { sort: { field: 'placedAt', direction: 'desc' }, limit: query.limit + 1, ...(after ? { after } : {}) });
    const shown = page(found, query.limit, (o) => encodeCursor(o.placedAt, o._id));
    return { items: shown.items.map(orderDetail), nextCursor: shown.nextCursor };
  };

  return [
    route({
      method: 'post', path: '/orders', summary: 'Place an order (202 once the broker acknowledged it)', tag: 'orders', access: 'BUYER',
      body: PlaceOrder, idempotent: true,
      responses: { 202: { description: 'Accepted', schema: Accepted, headers: ['Location'] } },
      handler: async (call) => {
        const { body, principal } = call;
        const ids = body.lines.map((l) => l.productId.toLowerCase());
        const products = new Map((await g.db.products.find({ _id: { $in: ids } })).map((p) => [p._id, p]));
        ids.forEach((id, i) => { if (!products.has(id)) throw badRequest('is not a product in the catalogue', `lines[${i}].productId`); });
        const key = call.header('idempotency-key');
        const orderId = key === undefined ? randomUUID() : derivedId('order', principal!.userId, key);
        const d = body.delivery;
        const placed: OrderPlaced = {
          eventId: derivedId('order-placed', orderId),
          orderId,
          customerId: principal!.userId,
          lines: body.lines.map((l, i) => ({ productId: ids[i]!, quantity: l.quantity, unitPrice: products.get(ids[i]!)!.price })),
          fulfilment: body.fulfilment,
          delivery: d ? { address: d.address, addressDetail: d.addressDetail ?? '', zipcode: d.zipcode, phone: d.phone ?? '', name: d.name ?? '', deliveryMemo: d.deliveryMemo ?? '' } : null,
          idempotencyKey: key ?? null,
          placedAt: g.now(),
        };
        await g.events.publish('order-placed', placed);
        g.recentOrders.add(orderId);
        return {
          status: 202,
          headers: { Location: `/orders/${orderId}` },
          body: { orderId, status: 'CREATED', websocketTopic: `/topic/order/${orderId}`, statusCheckUrl: `/orders/${orderId}/status` },
        };
      },
    }),
    route({
      method: 'post', path: '/orders/{id}/payment', summary: 'Pay for an order awaiting payment', tag: 'orders', access: 'BUYER',
      params: OrderParams, body: Pay, idempotent: true,
      responses: { 202: { description: 'Payment requested', schema: CommandAccepted }, 409: { description: 'The order is not awaiting payment' } },
      handler: async (call) => {
        const order = await find(call.principal!, call.params.id);
        if (order.status !== 'PENDING_PAYMENT' && order.status !== 'CREATED') throw conflict(`the order is ${order.status ?? 'CREATED'}, not awaiting payment`);
        if (call.body.amount !== order.total) throw unprocessable(`must equal the order total ${order.total}`, 'amount');
        return command(call, order.orderId, { type: 'PAY', paymentKey: call.body.paymentKey, amount: call.body.amount, reason: null });
      },
    }),
    route({
      method: 'post', path: '/orders/{id}/cancel', summary: 'Cancel an order that can still be cancelled', tag: 'orders', access: 'BUYER',
      params: OrderParams, body: Cancel, idempotent: true,
      responses: { 202: { description: 'Cancellation requested', schema: CommandAccepted }, 409: { description: 'The order can no longer be cancelled' } },
      handler: async (call) => {
        const order = await find(call.principal!, call.params.id);
        if (order.status === 'CANCELLED') return { status: 202, body: { orderId: order.orderId, commandId: commandId(call, order.orderId, 'CANCEL'), status: 'ACCEPTED' } };
        const status = orderStatusView(order);
        if (!status.canCancel) throw conflict(`the order is ${status.status} and can no longer be cancelled`);
        return command(call, order.orderId, { type: 'CANCEL', paymentKey: null, amount: null, reason: call.body.reason ?? null });
      },
    }),
    route({
      method: 'get', path: '/orders/{id}/status', summary: 'Where an order is (DOMAIN.md\'s status JSON)', tag: 'orders', access: 'user',
      params: OrderParams,
      responses: { 200: { description: 'The status', schema: OrderStatusBody } },
      handler: async ({ principal, params }) => {
        const order = await find(principal!, params.id);
        return { status: 200, body: orderStatusView(order) };
      },
    }),
    route({
      method: 'get', path: '/orders/{id}', summary: 'An order: lines, totals, the timeline of statuses', tag: 'orders', access: 'user',
      params: OrderParams,
      responses: { 200: { description: 'The order', schema: OrderDetail } },
      handler: async ({ principal, params }) => ({ status: 200, body: orderDetail(await find(principal!, params.id)) }),
    }),
    route({
      method: 'get', path: '/orders', summary: 'The buyer\'s orders, newest first', tag: 'orders', access: 'BUYER',
      query: PageQuery,
      responses: { 200: { description: 'A page of orders', schema: OrderPage } },
      handler: async ({ principal, query }) => ({ status: 200, body: await listed({ customerId: principal!.userId }, query) }),
    }),
    route({
      method: 'get', path: '/seller/orders', summary: 'Orders with the seller\'s products, newest first', tag: 'orders', access: 'SELLER',
      query: PageQuery,
      responses: { 200: { description: 'A page of orders', schema: OrderPage } },
      handler: async ({ principal, query }) => ({ status: 200, body: await listed({ sellerIds: principal!.userId, customerId: { $ne: null } }, query) }),
    }),
  ];
}
