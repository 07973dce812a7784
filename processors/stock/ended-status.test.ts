/**
 * The tracker's announced end of an order is a valid OrderStatusChanged (regression: its eventId
 * `<orderId>/ended` is no uuid, so the registry serde of the stock-order-ended repartition topic
 * refused it and the stock processor exited on the real brokers).
 */
import test from 'ava';
import { recordValidator } from '../../schemas/validate.ts';
import { endedStatus } from './retention.ts';

test('an ended status the tracker announces passes the OrderStatusChanged schema, with a stable eventId', (t) => {
  const orderId = '7f3527ec-9efc-4175-b2d0-1155796f42fa';
  const status = endedStatus(orderId, { status: 'COMPLETED', at: 1_700_000_000_000 });
  t.deepEqual(recordValidator('OrderStatusChanged').validate(status), []);
  t.is(endedStatus(orderId, { status: 'COMPLETED', at: 1 }).eventId, status.eventId, 'the same order: the same eventId (a replay repeats it)');
});
