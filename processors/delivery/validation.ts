/**
 * A delivery request delivery cannot act on (nowhere or nobody to ship to) is not answered: the
 * processor throws, and the engine's processing-error policy sends the record to dead letters.
 */
import type { DeliveryRequestMessage } from '../../schemas/index.ts';

export class InvalidDeliveryRequest extends Error {
  readonly key: string | null;
  readonly orderId: string | undefined;
  constructor(reason: string, key: string | null, orderId: string | undefined) {
    super(`invalid delivery request: ${reason} (key ${JSON.stringify(key)}, order ${orderId ?? 'none'})`);
    this.name = 'InvalidDeliveryRequest';
    this.key = key;
    this.orderId = orderId;
  }
}

const REQUIRED = ['orderId', 'address', 'name', 'zipcode'] as const;

export function validateDeliveryRequest(key: string | null, request: DeliveryRequestMessage | null): DeliveryRequestMessage {
  if (request === null || request === undefined) throw new InvalidDeliveryRequest('no value', key, undefined);
  for (const field of REQUIRED) {
    const v: unknown = request[field];
    if (typeof v !== 'string' || v.trim().length === 0) throw new InvalidDeliveryRequest(`empty ${field}`, key, request.orderId);
  }
  if (key !== request.orderId) throw new InvalidDeliveryRequest('key is not the orderId', key, request.orderId);
  return request;
}
