/**
 * Global stores: each instance keeps a full copy, filled from every partition of the store's
 * topic by its global processor. As in Kafka Streams they have no changelog: the topic is one.
 */
import { TopologyError } from '../errors.ts';
import type { Processor, ProcessorContext } from '../processor.ts';
import type { RecordMetadata, StreamRecord } from '../record.ts';
import type { StateStore } from '../stores/store.ts';
import type { GlobalStoreDef, Topology } from '../topology.ts';
import { internals } from '../internals.ts';

/** The task id global stores, their processors, metrics and dead letters go by. */
export const GLOBAL_TASK = 'global';

interface GlobalEntry {
  readonly def: GlobalStoreDef;
  readonly store: StateStore;
  readonly processor: Processor<unknown, unknown, never, never>;
  current: RecordMetadata | undefined;
}

export class GlobalStores {
  private readonly byTopic = new Map<string, GlobalEntry>();
  private readonly byName = new Map<string, GlobalEntry>();

  constructor(topology: Topology, applicationId: string, stateDir: string, now: () => number) {
    for (const def of internals(topology).globalStores.values()) {
      const store = def.store.build();
      store.init({
        applicationId, taskId: GLOBAL_TASK, partition: -1, stateDir: `${stateDir}/global`,
        log: () => {}, streamTime: () => -1,
      });
      const entry: GlobalEntry = { def, store, processor: def.processor.supplier() as Processor<unknown, unknown, never, never>, current: undefined };
      const context: ProcessorContext<never, never> = {
        applicationId, taskId: GLOBAL_TASK, partition: -1,
        forward: () => { throw new TopologyError(`global processor ${def.processor.name} cannot forward`); },
        recordMetadata: () => entry.current,
        getStateStore: <S extends StateStore>(name: string): S => {
          if (name !== def.store.name) throw new TopologyError(`global processor ${def.processor.name} has only store ${def.store.name}`);
          return store as S;
        },
        schedule: () => { throw new TopologyError('global processors cannot schedule punctuation'); },
        currentStreamTime: () => -1,
        currentSystemTime: now,
        commit: () => {},
      };
      entry.processor.init?.(context);
      for (const t of def.source.topics) this.byTopic.set(t, entry);
      this.byName.set(def.store.name, entry);
    }
  }

  reads(topic: string): boolean {
    return this.byTopic.has(topic);
  }

  topics(): string[] {
    return [...this.byTopic.keys()];
  }

  source(topic: string): GlobalStoreDef['source'] | undefined {
    return this.byTopic.get(topic)?.def.source;
  }

  store(name: string): StateStore | undefined {
    return this.byName.get(name)?.store;
  }

  apply(topic: string, record: StreamRecord<unknown, unknown>, offset: number, partition = 0): void {
    const entry = this.byTopic.get(topic);
    if (!entry) throw new TopologyError(`no global store reads ${topic}`);
    entry.current = { topic, partition, offset };
    try {
      entry.processor.process(record);
    } finally {
      entry.current = undefined;
    }
  }

  close(): void {
    for (const e of this.byName.values()) {
      e.processor.close?.();
      e.store.close();
    }
  }
}
