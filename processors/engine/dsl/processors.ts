/** Small processors the DSL is made of. Each does one thing to the records it gets. */
import type { Processor, ProcessorContext } from '../processor.ts';
import type { Change, StreamRecord } from '../record.ts';
import type { KeyValueStore } from '../stores/store.ts';

type Ctx = ProcessorContext<unknown, unknown>;

/** A stateless record-to-records function: covers filter, map, flatMap, peek, selectKey… */
export function statelessProcessor<KIn, VIn, KOut, VOut>(
  fn: (record: StreamRecord<KIn, VIn>, forward: (r: StreamRecord<KOut, VOut>) => void) => void,
): () => Processor<KIn, VIn, KOut, VOut> {
  return () => {
    let ctx: ProcessorContext<KOut, VOut>;
    return {
      init(c) { ctx = c; },
      process(r) { fn(r, (out) => ctx.forward(out)); },
    };
  };
}

/**
 * Keeps a table in a store and forwards each change with the value it replaced. Changes that
 * change nothing (delete of an absent key) are not forwarded.
 */
export function materializeProcessor<K, V>(storeName: string): () => Processor<K, Change<V>, K, Change<V>> {
  return () => {
    let ctx: ProcessorContext<K, Change<V>>;
    let store: KeyValueStore<K, V>;
    return {
      init(c) { ctx = c; store = c.getStateStore(storeName); },
      process(r) {
        if (r.key === null || r.key === undefined) return;
        const old = store.get(r.key) ?? null;
        const next = r.value.newValue;
        if (next === null || next === undefined) {
          if (old === null) return;
          store.delete(r.key);
        } else {
          store.put(r.key, next);
        }
        ctx.forward({ ...r, value: { newValue: next ?? null, oldValue: old } });
      },
    };
  };
}

/** Turns a topic's records into table changes (null value = delete). */
export function toChangeProcessor<K, V>(): () => Processor<K, V | null, K, Change<V>> {
  return statelessProcessor<K, V | null, K, Change<V>>((r, forward) => {
    forward({ ...r, value: { newValue: r.value ?? null, oldValue: null } });
  });
}

export type { Ctx };
