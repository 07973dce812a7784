/**
 * Applies projection inputs to the view collections: read the document, project, write it back
 * only if it is still the one read (an insert for a new document, a replace conditioned on its
 * version fields otherwise), and start over when another writer got there first. Work on one
 * document is serialized in this process (KeyedLock); the conditions cover a second process that
 * briefly owns the same partition during a rebalance.
 *
 * Writes are idempotent: an input applied again projects to NO_CHANGE and writes nothing, so the
 * projector can redo uncommitted records after a crash.
 */
import { DuplicateKeyError } from '../../persistence/errors.ts';
import type { Collection, Filter, Persistence } from '../../persistence/types.ts';
import type { ChatMessage, OrderPlaced, OrderStatusChanged } from '../../schemas/index.ts';
import type { StoredLevel } from '../stock/stores.ts';
import { KeyedLock } from './keyed-lock.ts';
import {
  DELETE, NO_CHANGE, projectChatMessage, projectOrderPlaced, projectStatusChanged, projectStockLevel, type NoChange,
} from './projection.ts';
import {
  CHAT_VIEW, ORDERS_VIEW, PRODUCTS_COLLECTION, STOCK_VIEW, type ChatView, type OrderView, type ProductDoc, type StockView,
} from './views.ts';

/** One decoded record for the projection. */
export type ProjectionInput =
  | { readonly kind: 'order-placed'; readonly value: OrderPlaced }
  | { readonly kind: 'order-status'; readonly value: OrderStatusChanged }
  | { readonly kind: 'chat'; readonly value: ChatMessage }
  /** An entry of the stock level store's changelog; null is a tombstone. */
  | { readonly kind: 'stock-level'; readonly productId: string; readonly level: StoredLevel | null };

export type ApplyOutcome = 'written' | 'deleted' | 'unchanged';

/** Another writer kept winning the race for one document. Not retriable as such: the record is dead-lettered. */
export class WriteConflictError extends Error {
  override readonly name = 'WriteConflictError';
  constructor(readonly collection: string, readonly id: string, attempts: number) {
    super(`${collection}/${id}: the document changed under every one of ${attempts} attempts to write it`);
  }
}

export class ViewWriter {
  readonly #orders: Collection<OrderView>;
  readonly #stock: Collection<StockView>;
  readonly #chat: Collection<ChatView>;
  readonly #products: Collection<ProductDoc>;
  readonly #lock = new KeyedLock();

  private constructor(orders: Collection<OrderView>, stock: Collection<StockView>, chat: Collection<ChatView>, products: Collection<ProductDoc>) {
    this.#orders = orders;
    this.#stock = stock;
    this.#chat = chat;
    this.#products = products;
  }

  /** Opens (and indexes) the view collections and the catalogue. */
  static async open(persistence: Persistence): Promise<ViewWriter> {
    return new ViewWriter(
      await persistence.collection<OrderView>(ORDERS_VIEW),
      await persistence.collection<StockView>(STOCK_VIEW),
      await persistence.collection<ChatView>(CHAT_VIEW),
      await persistence.collection<ProductDoc>(PRODUCTS_COLLECTION),
    );
  }

  apply(input: ProjectionInput): Promise<ApplyOutcome> {
    switch (input.kind) {
      case 'order-placed': {
        const event = input.value;
        return this.#lock.run(`orders/${event.orderId}`, async () => {
          const products = await this.#catalogue(event);
          return this.#compareAndSet(this.#orders, event.orderId, (view) => projectOrderPlaced(view, event, products), orderVersion);
        });
      }
      case 'order-status': {
        const event = input.value;
        return this.#lock.run(`orders/${event.orderId}`, () => this.#compareAndSet(this.#orders, event.orderId, (view) => projectStatusChanged(view, event), orderVersion));
      }
      case 'chat': {
        const message = input.value;
        return this.#lock.run(`chat/${message.messageId}`, () => this.#compareAndSet(this.#chat, message.messageId, (view) => projectChatMessage(view, message), () => ({})));
      }
      case 'stock-level':
        return this.#lock.run(`stock/${input.productId}`, () => this.#stockLevel(input.productId, input.level));
    }
  }

  /** The catalogue documents of an order's products (those the catalogue has). */
  async #catalogue(event: OrderPlaced): Promise<ProductDoc[]> {
    const ids = [...new Set(event.lines.map((l) => l.productId))];
    const found = await Promise.all(ids.map((id) => this.#products.get(id)));
    return found.filter((p): p is ProductDoc => p !== undefined);
  }

  /** The changelog is read in order: its latest entry wins, no version check. */
  async #stockLevel(productId: string, level: StoredLevel | null): Promise<ApplyOutcome> {
    const next = projectStockLevel(await this.#stock.get(productId), productId, level);
    if (next === NO_CHANGE) return 'unchanged';
    if (next === DELETE) return (await this.#stock.delete(productId)) ? 'deleted' : 'unchanged';
    await this.#stock.replace(next);
    return 'written';
  }

  async #compareAndSet<T extends { readonly _id: string }>(
    collection: Collection<T>, id: string, project: (view: T | undefined) => T | NoChange, version: (view: T) => Filter<T>,
  ): Promise<ApplyOutcome> {
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      const view = await collection.get(id);
      const next = project(view);
      if (next === NO_CHANGE) return 'unchanged';
      if (view === undefined) {
        try {
          await collection.insert(next);
          return 'written';
        } catch (e) {
          if (!(e instanceof DuplicateKeyError)) throw e;
          continue;
        }
      }
      if ((await collection.replace(next, version(view))) === 'written') return 'written';
    }
    throw new WriteConflictError(collection.name, id, MAX_ATTEMPTS);
  }
}

const MAX_ATTEMPTS = 10;

/**
 * What changes with every write of an order view: a status move changes the sequence and
 * lastUpdated, a placement the buyer. (A timeline-only fill changes none of them; it can only
 * race another process's write during a rebalance, which the per-document lock cannot see.)
 */
function orderVersion(view: OrderView): Filter<OrderView> {
  return { sequence: view.sequence, lastUpdated: view.lastUpdated, customerId: view.customerId };
}
