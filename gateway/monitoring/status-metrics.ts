/**
 * Order status changes counted where the gateway already reads them (its realtime relay), for
 * the dashboard's orders per minute by status: `orderstream_order_status_total{status}`. Every
 * gateway instance reads every status event, so across instances take the max, not the sum.
 */
import { Counter, type Registry } from 'prom-client';
import type { RelayTargets } from '../realtime/relay.ts';

export function countingStatuses(targets: RelayTargets, registry: Registry): RelayTargets {
  const statuses = new Counter<'status'>({ name: 'orderstream_order_status_total', help: 'Order status changes seen, by the status reached', labelNames: ['status'], registers: [registry] });
  return {
    status(event) {
      statuses.inc({ status: event.to });
      targets.status(event);
    },
    chat: (message) => targets.chat(message),
  };
}
