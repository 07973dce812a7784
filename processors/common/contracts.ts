/**
 * How a team topology names and encodes the contract topics. A topology takes a `Contracts` and
 * never spells a topic name or a serde itself, so the same topology runs under the test driver
 * (plain values, contract names) and in a process (registry-backed Avro, optional topic prefix).
 */
import { Serdes, type Consumed, type Produced, type Serde } from '../engine/index.ts';
import {
  avroValueSerde, recordSerde, type RecordName, type Records, type TopicName, type TopicValue,
} from '../../schemas/index.ts';
import type { Client } from '@confluentinc/schemaregistry';

export interface Contracts {
  /** The physical topic of a contract topic (the contract name, after any deployment prefix). */
  topic(name: TopicName): string;
  /** How to read a contract topic: string keys, the topic's Avro record as value. */
  consumed<T extends TopicName>(name: T): Consumed<string, TopicValue<T>>;
  /** How to write a contract topic. */
  produced<T extends TopicName>(name: T): Produced<string, TopicValue<T>>;
  /** A serde for a contract record on a topic of the processor's own (repartition, internal). */
  record<R extends RecordName>(record: R): Serde<Records[R]> | undefined;
}

/**
 * The value serde of a contract topic, for code that reads or writes records itself (the
 * gateway's publisher and relay): registry-backed contracts have one per topic; plain ones none.
 */
export function valueSerdeOf<T extends TopicName>(contracts: Contracts, name: T): Serde<TopicValue<T>> {
  const serde = contracts.produced(name).valueSerde;
  if (!serde) throw new Error(`${name}: these contracts carry no serdes (use registryContracts)`);
  return serde;
}

/** Contract names, no serdes: for the test driver, which passes values through as objects. */
export function plainContracts(): Contracts {
  return {
    topic: (name) => name,
    consumed: () => ({ keySerde: Serdes.string() }),
    produced: () => ({ keySerde: Serdes.string() }),
    record: () => undefined,
  };
}

/** Registry-backed Avro (Confluent wire format) under `<prefix><topic>-value` subjects. */
export function registryContracts(client: Client, prefix = ''): Contracts {
  // One serde per topic and record: building one parses the schema and compiles its validator
  // and resolver, far too dear to do per record (callers may ask per record, e.g. envelopes).
  const values = new Map<TopicName, Serde<unknown>>();
  const records = new Map<RecordName, Serde<unknown>>();
  const valueSerde = <T extends TopicName>(name: T): Serde<TopicValue<T>> => {
    let serde = values.get(name);
    if (serde === undefined) values.set(name, (serde = avroValueSerde(client, name) as Serde<unknown>));
    return serde as Serde<TopicValue<T>>;
  };
  return {
    topic: (name) => `${prefix}${name}`,
    consumed: (name) => ({ keySerde: Serdes.string(), valueSerde: valueSerde(name) }),
    produced: (name) => ({ keySerde: Serdes.string(), valueSerde: valueSerde(name) }),
    record: <R extends RecordName>(record: R) => {
      let serde = records.get(record);
      if (serde === undefined) records.set(record, (serde = recordSerde(client, record) as Serde<unknown>));
      return serde as Serde<Records[R]>;
    },
  };
}
