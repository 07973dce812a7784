/**
 * Serializes async work per key: work for one key runs one at a time, in the order it was asked
 * for; work for different keys runs freely. The projector's consumer may hand over batches of
 * several partitions at once, and one order's placed and status events live on different topics.
 */
export class KeyedLock {
  readonly #tails = new Map<string, Promise<unknown>>();

  /** Runs `work` once every earlier work for `key` has settled; answers its result. */
  run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(key) ?? Promise.resolve();
    const result = previous.then(work, work);
    const tail = result.then(() => undefined, () => undefined);
    this.#tails.set(key, tail);
    // The last one out forgets the key, so the map holds only keys with work pending.
    void tail.then(() => { if (this.#tails.get(key) === tail) this.#tails.delete(key); });
    return result;
  }

  /** Keys with work running or waiting. */
  get size(): number {
    return this.#tails.size;
  }
}
