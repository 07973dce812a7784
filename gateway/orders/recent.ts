/**
 * Orders this instance accepted lately. Only for these does a read wait for the projection
 * (read-your-writes): a read of an id nobody here just handed out answers at once, so unknown ids
 * cost nothing to look up.
 */
export class RecentOrders {
  readonly #at = new Map<string, number>();
  constructor(private readonly capacity = 10_000, private readonly ttlMs = 60_000) {}

  add(orderId: string, now = Date.now()): void {
    this.#at.delete(orderId);
    this.#at.set(orderId, now);
    if (this.#at.size > this.capacity) this.#at.delete(this.#at.keys().next().value!);
  }

  has(orderId: string, now = Date.now()): boolean {
    const at = this.#at.get(orderId);
    return at !== undefined && now - at < this.ttlMs;
  }
}
