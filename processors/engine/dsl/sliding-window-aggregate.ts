/**
 * Sliding-window aggregation, Kafka Streams' KStreamSlidingWindowAggregate algorithm: windows
 * exist only where records are. A record at ts updates every existing window that contains it,
 * creates its own left window [ts − d, ts] from the aggregate of the window before it, the right
 * window [ts + 1, ts + 1 + d] when later records fall within d, and the right window of the
 * previous record when that now holds this record. Aggregates are never recomputed from raw
 * records, so the aggregator need not be invertible. Windows are visited latest first, as Kafka
 * Streams does with its reverse iterator, so updates are forwarded in the same order.
 */
import type { Processor, ProcessorContext } from '../processor.ts';
import type { Change, StreamRecord } from '../record.ts';
import type { WindowStore } from '../stores/window.ts';
import type { AggregateStep } from './windowed-stream.ts';
import { windowed, type Windowed } from './windowed.ts';
import type { SlidingWindows } from './windows.ts';

/** An aggregate as it will be updated: its value (undefined: none yet) and the latest record time in it. */
interface Agg<VA> {
  readonly value: VA | undefined;
  readonly timestamp: number;
}

export function slidingWindowAggregate<K, V, VA>(
  storeName: string, windows: SlidingWindows, initial: () => VA | undefined, step: AggregateStep<K, V, VA>, late: () => void,
): () => Processor<K, V, Windowed<K>, Change<VA>> {
  const d = windows.timeDifferenceMs;
  return () => {
    let ctx: ProcessorContext<Windowed<K>, Change<VA>>;
    let store: WindowStore<K, VA>;

    /** Adds the record to one window, unless the window has closed. */
    const update = (r: StreamRecord<K, V>, start: number, agg: Agg<VA>, existed: boolean, closeTime: number) => {
      if (start + d < closeTime) { late(); return; }
      const next = step(r.key, r.value, agg.value);
      const timestamp = Math.max(r.timestamp, agg.timestamp);
      store.put(r.key, next, start, timestamp);
      ctx.forward({ key: windowed(r.key, start, start + d), value: { newValue: next, oldValue: existed ? agg.value ?? null : null }, timestamp, headers: r.headers });
    };

    /** The new record's right window takes the aggregate of the records after it. */
    const createRightWindow = (r: StreamRecord<K, V>, agg: { value: VA; timestamp: number }) => {
      const start = r.timestamp + 1;
      store.put(r.key, agg.value, start, agg.timestamp);
      ctx.forward({ key: windowed(r.key, start, start + d), value: { newValue: agg.value, oldValue: null }, timestamp: agg.timestamp, headers: r.headers });
    };

    const fresh = (r: StreamRecord<K, V>): Agg<VA> => ({ value: initial(), timestamp: r.timestamp });

    const processFromLatest = (r: StreamRecord<K, V>, closeTime: number) => {
      const ts = r.timestamp;
      const starts = new Set<number>();
      let leftAgg: { value: VA; timestamp: number } | undefined;
      let rightAgg: { value: VA; timestamp: number } | undefined;
      let leftCreated = false;
      let rightCreated = false;
      let previous: number | undefined;
      for (const w of store.fetch(r.key, Math.max(0, ts - 2 * d), ts + 1).reverse()) {
        const start = w.windowStart;
        const end = start + d;
        starts.add(start);
        if (start === ts + 1) {
          rightCreated = true;
        } else if (end > ts) {
          rightAgg ??= w;
          update(r, start, w, true, closeTime);
        } else if (end === ts) {
          leftCreated = true;
          update(r, start, w, true, closeTime);
          // The window ending here already holds a record at ts: every window this one needs exists.
          if (w.timestamp < ts) previous = w.timestamp; else return;
        } else {
          leftAgg = w;
          previous = w.timestamp;
          break;
        }
      }
      if (previous !== undefined && !starts.has(previous + 1) && previous + 1 + d >= ts) update(r, previous + 1, fresh(r), false, closeTime);
      if (!leftCreated) {
        const agg = leftAgg && previous !== undefined && ts - d <= previous ? { value: leftAgg.value, timestamp: ts } : fresh(r);
        update(r, ts - d, agg, false, closeTime);
      }
      if (!rightCreated && rightAgg && rightAgg.timestamp > ts) createRightWindow(r, rightAgg);
    };

    // Records before d would open windows starting before 0: they share the window [0, d].
    const processEarly = (r: StreamRecord<K, V>, closeTime: number) => {
      const ts = r.timestamp;
      const starts = new Set<number>();
      let combined: { windowStart: number; value: VA; timestamp: number } | undefined;
      let rightAgg: { value: VA; timestamp: number } | undefined;
      let rightCreated = false;
      let previous: number | undefined;
      for (const w of store.fetch(r.key, 0, ts + 1)) {
        starts.add(w.windowStart);
        if (w.windowStart === 0) {
          combined = w;
          if (w.timestamp < ts) previous = w.timestamp;
        } else if (w.windowStart <= ts) {
          rightAgg = w;
          update(r, w.windowStart, w, true, closeTime);
        } else if (w.windowStart === ts + 1) {
          rightCreated = true;
        }
      }
      if (!rightAgg && combined && combined.timestamp > ts) rightAgg = combined;
      if (!rightCreated && rightAgg && rightAgg.timestamp > ts) createRightWindow(r, rightAgg);
      if (previous !== undefined && !starts.has(previous + 1)) update(r, previous + 1, fresh(r), false, closeTime);
      if (combined) update(r, 0, combined, true, closeTime); else update(r, 0, fresh(r), false, closeTime);
    };

    return {
      init(c) { ctx = c; store = c.getStateStore(storeName); },
      process(r) {
        if (r.key === null || r.key === undefined || r.value === null || r.value === undefined) return;
        const closeTime = ctx.currentStreamTime() - windows.graceMs;
        if (r.timestamp + d < closeTime) { late(); return; }
        if (r.timestamp < d) processEarly(r, closeTime); else processFromLatest(r, closeTime);
      },
    };
  };
}
