/**
 * DOMAIN.md's status JSON as the API documents it; the body itself is the read model's
 * (processors/read-model/status-view.ts), for `GET /orders/{id}/status` and the pushes alike.
 */
import { z } from 'zod';
import { OrderStatusSymbols, type OrderStatus } from '../../schemas/index.ts';

export const OrderStatusBody = z.object({
  orderId: z.uuid(),
  status: z.enum(OrderStatusSymbols as [OrderStatus, ...OrderStatus[]]),
  statusDescription: z.string(),
  progressPercentage: z.number().int(),
  canCancel: z.boolean(),
  lastUpdated: z.string().openapi({ description: 'ISO-8601' }),
}).openapi('OrderStatus');
