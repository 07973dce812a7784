/**
 * What stock refuses to act on. Invalid input is not an answer (no StockResponseMessage): the
 * processor throws, and the engine's processing-error policy (dead letters in a process) takes
 * the record out of the stream with the reason, so no stock is touched for it.
 */
import type { StockDecreaseRequestMessage, StockLevel, StockReleaseMessage } from '../../schemas/index.ts';

/** Where the invalid input came from, for the dead letter's reason and the logs. */
export interface StockInputContext {
  readonly kind: 'order-created' | 'stock-level' | 'stock-release';
  readonly key?: string | null;
  readonly orderId?: string;
  readonly productId?: string;
}

export class InvalidStockInput extends Error {
  readonly context: StockInputContext;
  constructor(reason: string, context: StockInputContext) {
    super(`invalid ${context.kind}: ${reason}${describe(context)}`);
    this.name = 'InvalidStockInput';
    this.context = context;
  }
}

/**
 * A request is rejected whole (before it is split into lines), so that an invalid line never
 * leaves the other lines of the same order reserved with no complete answer for the order.
 */
export function validateDecreaseRequest(key: string | null, request: StockDecreaseRequestMessage | null): StockDecreaseRequestMessage {
  const ctx = { kind: 'order-created' as const, key };
  if (request === null || request === undefined) throw new InvalidStockInput('no value', ctx);
  const withOrder = { ...ctx, orderId: request.orderId };
  if (!nonEmpty(request.orderId)) throw new InvalidStockInput('empty orderId', withOrder);
  if (key !== null && key !== request.orderId) throw new InvalidStockInput(`key is not the orderId ${request.orderId}`, withOrder);
  if (!Array.isArray(request.products) || request.products.length === 0) throw new InvalidStockInput('no products', withOrder);
  const seen = new Set<string>();
  for (const line of request.products) {
    const lineCtx = { ...withOrder, productId: line.productId };
    if (!nonEmpty(line.productId)) throw new InvalidStockInput('empty productId', lineCtx);
    if (!Number.isInteger(line.quantity) || line.quantity <= 0) throw new InvalidStockInput(`quantity must be a positive integer, not ${line.quantity}`, lineCtx);
    // One reservation per (product, order): order merges lines per product, and a second line of
    // the same product would read as a duplicate of the first.
    if (seen.has(line.productId)) throw new InvalidStockInput('product appears in more than one line', lineCtx);
    seen.add(line.productId);
  }
  return request;
}

/**
 * A release needs only its order and product: the quantity given back is the one reserved, so a
 * wrong quantity in the message does not stop a compensation.
 */
export function validateRelease(key: string | null, release: StockReleaseMessage | null): StockReleaseMessage {
  const ctx = { kind: 'stock-release' as const, key };
  if (release === null || release === undefined) throw new InvalidStockInput('no value', ctx);
  const withIds = { ...ctx, orderId: release.orderId, productId: release.productId };
  if (!nonEmpty(release.orderId)) throw new InvalidStockInput('empty orderId', withIds);
  if (!nonEmpty(release.productId)) throw new InvalidStockInput('empty productId', withIds);
  if (key !== null && key !== release.orderId) throw new InvalidStockInput('key is not the orderId', withIds);
  return release;
}

export function validateLevel(key: string | null, level: StockLevel): StockLevel {
  const ctx = { kind: 'stock-level' as const, key, productId: level.productId };
  if (!nonEmpty(level.productId)) throw new InvalidStockInput('empty productId', ctx);
  if (key !== level.productId) throw new InvalidStockInput('key is not the productId', ctx);
  if (!Number.isInteger(level.available) || level.available < 0) throw new InvalidStockInput(`available must be a non-negative integer, not ${level.available}`, ctx);
  return level;
}

function nonEmpty(s: unknown): s is string {
  return typeof s === 'string' && s.length > 0;
}

function describe(c: StockInputContext): string {
  const parts: string[] = [];
  if (c.key !== undefined && c.key !== null) parts.push(`key ${JSON.stringify(c.key)}`);
  if (c.orderId !== undefined) parts.push(`order ${c.orderId}`);
  if (c.productId !== undefined) parts.push(`product ${c.productId}`);
  return parts.length ? ` (${parts.join(', ')})` : '';
}
