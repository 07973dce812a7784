/** DOMAIN.md's status JSON, for `GET /orders/{id}/status` and the pushes on `/topic/order/{id}`. */
import { z } from 'zod';
import { ORDER_STATUSES } from '../../processors/order/status.ts';
import { OrderStatusSymbols, type OrderStatus } from '../../schemas/index.ts';

export const OrderStatusBody = z.object({
  orderId: z.uuid(),
  status: z.enum(OrderStatusSymbols as [OrderStatus, ...OrderStatus[]]),
  statusDescription: z.string(),
  progressPercentage: z.number().int(),
  canCancel: z.boolean(),
  lastUpdated: z.string().openapi({ description: 'ISO-8601' }),
}).openapi('OrderStatus');

export type OrderStatusJson = z.infer<typeof OrderStatusBody>;

export function statusBody(orderId: string, status: OrderStatus, at: number): OrderStatusJson {
  const info = ORDER_STATUSES[status];
  return {
    orderId, status, statusDescription: info.description, progressPercentage: info.progressPercentage,
    canCancel: info.canCancel, lastUpdated: new Date(at).toISOString(),
  };
}
