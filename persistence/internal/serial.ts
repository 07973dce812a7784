/**
 * Runs tasks of one key one after another (tasks of different keys run concurrently). The
 * MongoDB implementation serializes its conditional writes per document with it, because
 * FerretDB evaluates an update's filter and writes the document in separate steps: two
 * concurrent compare-and-sets from the same state both succeed there. This makes them exclusive
 * within one process; across processes only MongoDB itself guarantees it.
 */
export class KeyedSerializer {
  readonly #tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(key) ?? Promise.resolve();
    const result = previous.then(task);
    const tail = result.then(() => undefined, () => undefined);
    this.#tails.set(key, tail);
    void tail.then(() => { if (this.#tails.get(key) === tail) this.#tails.delete(key); });
    return result;
  }
}
