/**
 * Foreign-key table–table joins (inner, left), in the shape of Kafka Streams'
 * KTableKTableForeignKeyJoin, so that they work when the two tables are partitioned differently:
 *
 *   left table ─ send ─▶ subscription topic (keyed by foreign key, co-partitioned with the right table)
 *   subscription source ─ receive: subscription store [(fk, pk)] + right lookup ─▶ response topic
 *   right table ─ right-change: every (fk, pk) subscribed to the changed row ─▶ response topic
 *   response topic (to the left row's partition) ─ response-join: left lookup ─▶ result table
 *
 * Each subscription carries a hash of the left value it was sent for; a response is applied only
 * if the left row still has that value, so out-of-date responses (after a foreign-key change or
 * an update in flight) are dropped and the result follows the latest left row.
 */
import { createHash } from 'node:crypto';
import { TopologyError } from '../errors.ts';
import type { Processor, ProcessorContext } from '../processor.ts';
import type { Change } from '../record.ts';
import { Serdes, type Codec, type Serde } from '../serde.ts';
import { keyValueStore } from '../stores/key-value.ts';
import type { KeyValueStore } from '../stores/store.ts';
import { codecOf } from './builder.ts';
import type { KTable } from './ktable.ts';
import type { Materialized } from './options.ts';
import { sourceTopicsOf } from './stream-table-join.ts';

export type ForeignKeyJoiner<K, V, VO, VR> = (value: V, otherValue: VO, key: K) => VR;

/** What the right side does with a subscription (Kafka Streams' SubscriptionWrapper.Instruction). */
export const Instruction = {
  /** Unsubscribe; the left row moved to another foreign key, whose response will decide. */
  DeleteNoPropagate: 0,
  /** Unsubscribe and answer with null, so that the result is retracted. */
  DeleteAndPropagate: 1,
  /** Subscribe; answer with the right value, or null when there is none. */
  PropagateNullIfNoValue: 2,
  /** Subscribe; answer only if the right row exists. */
  PropagateOnlyIfValue: 3,
} as const;
export type Instruction = (typeof Instruction)[keyof typeof Instruction];

export interface Subscription<K> {
  /** Hash of the left value this subscription was sent for; null for a deleted left row. */
  readonly hash: string | null;
  readonly instruction: Instruction;
  readonly primaryKey: K;
  /** The left row's partition, where the response must go. */
  readonly partition: number;
}

export interface SubscriptionResponse<VO> {
  readonly hash: string | null;
  readonly foreignValue: VO | null;
  readonly partition: number;
}

export function foreignKeyJoin<K, V, KO, VO, VR>(
  left: KTable<K, V>, right: KTable<KO, VO>, foreignKey: (value: V) => KO | null | undefined,
  joiner: ForeignKeyJoiner<K, V, VO | null, VR>, leftJoin: boolean, materialized: Materialized<K, VR>,
): KTable<K, VR> {
  const b = left.builder;
  if (right.builder !== b) throw new TopologyError('cannot join a table of another StreamsBuilder');
  const t = b.topology;
  const prefix = b.name(leftJoin ? 'KTABLE-FK-LEFTJOIN' : 'KTABLE-FK-JOIN');
  const subscriptionTopic = `${prefix}-subscription-registration-topic`;
  const responseTopic = `${prefix}-subscription-response-topic`;
  const subscriptionStore = `${prefix}-subscription-store`;
  const names = {
    send: `${prefix}-subscription-send`, subscriptionSink: `${prefix}-subscription-sink`, subscriptionSource: `${prefix}-subscription-source`,
    receive: `${prefix}-subscription-receive`, rightChange: `${prefix}-foreign-table-change`,
    responseSink: `${prefix}-response-sink`, responseSource: `${prefix}-response-source`, responseJoin: `${prefix}-response-join`,
  };
  const fkCodec = codecOf(right.keySerde);
  const pkCodec = codecOf(left.keySerde);
  const leftValueCodec = codecOf(left.valueSerde);
  const hash = (v: V): string => createHash('sha256').update(leftValueCodec.encode(v)).digest('base64');
  const subscriptionSerde = subscriptionSerdeOf<K>(left.keySerde);
  const responseSerde = responseSerdeOf<VO>(right.valueSerde);

  // Left side: each left change subscribes to its foreign key (and unsubscribes from the old one).
  t.addProcessor<K, Change<V>, KO | K, Subscription<K> | SubscriptionResponse<VO>>(names.send, () => {
    let ctx: ProcessorContext<KO | K, Subscription<K> | SubscriptionResponse<VO>>;
    return {
      init(c) { ctx = c; },
      process(r) {
        const { newValue, oldValue } = r.value;
        const oldFk = oldValue === null ? null : foreignKey(oldValue) ?? null;
        const newFk = newValue === null ? null : foreignKey(newValue) ?? null;
        const h = newValue === null ? null : hash(newValue);
        const subscribe = (fk: KO, instruction: Instruction) => ctx.forward(
          { ...r, key: fk, value: { hash: h, instruction, primaryKey: r.key, partition: ctx.partition } }, names.subscriptionSink);
        // A row without foreign key joins nothing: answered here, no round trip.
        const answerNull = () => ctx.forward({ ...r, value: { hash: h, foreignValue: null, partition: ctx.partition } }, names.responseJoin);
        const moved = oldFk !== null && (newFk === null || !fkCodec.encode(oldFk).equals(fkCodec.encode(newFk)));
        if (leftJoin) {
          if (moved) subscribe(oldFk, Instruction.DeleteAndPropagate);
          if (newFk !== null) subscribe(newFk, Instruction.PropagateNullIfNoValue);
          else if (newValue !== null || oldValue !== null) answerNull();
        } else {
          if (moved) subscribe(oldFk, newFk === null ? Instruction.DeleteAndPropagate : Instruction.DeleteNoPropagate);
          if (newFk !== null) subscribe(newFk, oldFk !== null ? Instruction.PropagateNullIfNoValue : Instruction.PropagateOnlyIfValue);
        }
      },
    };
  }, left.node);
  t.addInternalTopic({ name: subscriptionTopic, purpose: 'repartition' });
  t.addSink(names.subscriptionSink, subscriptionTopic, { keySerde: right.keySerde, valueSerde: subscriptionSerde }, names.send);

  // Right side: subscriptions are kept by (foreign key, primary key) and answered.
  t.addSource(names.subscriptionSource, subscriptionTopic, { keySerde: right.keySerde, valueSerde: subscriptionSerde });
  t.addProcessor<KO, Subscription<K>, K, SubscriptionResponse<VO>>(names.receive, (): Processor<KO, Subscription<K>, K, SubscriptionResponse<VO>> => {
    let ctx: ProcessorContext<K, SubscriptionResponse<VO>>;
    let subscriptions: SubscriptionStore<K, KO>;
    let rightRows: KeyValueStore<KO, VO>;
    return {
      init(c) {
        ctx = c;
        subscriptions = new SubscriptionStore(c.getStateStore(subscriptionStore), fkCodec, pkCodec);
        rightRows = c.getStateStore(right.storeName);
      },
      process(r) {
        if (r.key === null || r.key === undefined) return;
        const s = r.value;
        const deleting = s.instruction === Instruction.DeleteAndPropagate || s.instruction === Instruction.DeleteNoPropagate;
        if (deleting) subscriptions.remove(r.key, s.primaryKey); else subscriptions.put(r.key, s.primaryKey, s.partition, s.hash);
        const foreignValue = rightRows.get(r.key) ?? null;
        const answer = (v: VO | null) => ctx.forward({ ...r, key: s.primaryKey, value: { hash: s.hash, foreignValue: v, partition: s.partition } });
        if (s.instruction === Instruction.DeleteAndPropagate) answer(null);
        else if (s.instruction === Instruction.PropagateNullIfNoValue) answer(foreignValue);
        else if (s.instruction === Instruction.PropagateOnlyIfValue && foreignValue !== null) answer(foreignValue);
      },
    };
  }, names.subscriptionSource);
  t.addProcessor<KO, Change<VO>, K, SubscriptionResponse<VO>>(names.rightChange, (): Processor<KO, Change<VO>, K, SubscriptionResponse<VO>> => {
    let ctx: ProcessorContext<K, SubscriptionResponse<VO>>;
    let subscriptions: SubscriptionStore<K, KO>;
    return {
      init(c) { ctx = c; subscriptions = new SubscriptionStore(c.getStateStore(subscriptionStore), fkCodec, pkCodec); },
      process(r) {
        if (r.key === null || r.key === undefined) return;
        for (const s of subscriptions.of(r.key)) {
          ctx.forward({ ...r, key: s.primaryKey, value: { hash: s.hash, foreignValue: r.value.newValue, partition: s.partition } });
        }
      },
    };
  }, right.node);
  t.addStateStore(keyValueStore<Buffer, Buffer>(subscriptionStore, {
    keyCodec: Serdes.buffer(), valueCodec: Serdes.buffer(), persistent: materialized.persistent, logging: materialized.logging,
  }), names.receive, names.rightChange);
  t.connectProcessorAndStateStores(names.receive, right.storeName);
  t.copartition([subscriptionTopic, ...sourceTopicsOf(t, right.node)]);
  t.addInternalTopic({ name: responseTopic, purpose: 'repartition' });
  t.addSink<K, SubscriptionResponse<VO>>(names.responseSink, responseTopic, {
    keySerde: left.keySerde, valueSerde: responseSerde, partitioner: (_k, v) => v.partition,
  }, names.receive, names.rightChange);

  // Back on the left row's partition: apply the response if it is for the row's current value.
  t.addSource(names.responseSource, responseTopic, { keySerde: left.keySerde, valueSerde: responseSerde });
  t.addProcessor<K, SubscriptionResponse<VO>, K, Change<VR>>(names.responseJoin, (): Processor<K, SubscriptionResponse<VO>, K, Change<VR>> => {
    let ctx: ProcessorContext<K, Change<VR>>;
    let leftRows: KeyValueStore<K, V>;
    return {
      init(c) { ctx = c; leftRows = c.getStateStore(left.storeName); },
      process(r) {
        if (r.key === null || r.key === undefined) return;
        const current = leftRows.get(r.key) ?? null;
        if ((current === null ? null : hash(current)) !== r.value.hash) return;
        const { foreignValue } = r.value;
        const result = current === null || (foreignValue === null && !leftJoin) ? null : joiner(current, foreignValue, r.key);
        ctx.forward({ ...r, value: { newValue: result, oldValue: null } });
      },
    };
  }, names.responseSource, names.send);
  t.connectProcessorAndStateStores(names.responseJoin, left.storeName);
  t.copartition([responseTopic, ...sourceTopicsOf(t, left.node)]);
  return b.materialize<K, VR>(names.responseJoin, { keySerde: left.keySerde, ...materialized });
}

/**
 * Subscriptions on the right side: key `[fk length: u32][fk][pk]`, so that the subscribers of a
 * foreign key are one range; value `[partition: u32][hash]` (no hash: a deleted left row).
 */
class SubscriptionStore<K, KO> {
  constructor(private readonly store: KeyValueStore<Buffer, Buffer>, private readonly fkCodec: Codec<KO>, private readonly pkCodec: Codec<K>) {}

  put(fk: KO, pk: K, partition: number, hash: string | null): void {
    const value = Buffer.alloc(4);
    value.writeUInt32BE(partition);
    this.store.put(this.key(fk, pk), Buffer.concat([value, Buffer.from(hash ?? '', 'base64')]));
  }

  remove(fk: KO, pk: K): void {
    this.store.delete(this.key(fk, pk));
  }

  of(fk: KO): { primaryKey: K; partition: number; hash: string | null }[] {
    const prefix = this.prefix(fk);
    const upper = Buffer.concat([prefix, Buffer.alloc(1, 0xff)]);
    const out: { primaryKey: K; partition: number; hash: string | null }[] = [];
    for (const { key, value } of this.store.range(prefix, upper)) {
      if (!key.subarray(0, prefix.length).equals(prefix)) continue;
      const h = value.subarray(4);
      out.push({ primaryKey: this.pkCodec.decode(key.subarray(prefix.length)), partition: value.readUInt32BE(0), hash: h.length === 0 ? null : h.toString('base64') });
    }
    return out;
  }

  private prefix(fk: KO): Buffer {
    const f = this.fkCodec.encode(fk);
    const length = Buffer.alloc(4);
    length.writeUInt32BE(f.length);
    return Buffer.concat([length, f]);
  }

  private key(fk: KO, pk: K): Buffer {
    return Buffer.concat([this.prefix(fk), this.pkCodec.encode(pk)]);
  }
}

/** Subscriptions on their topic: JSON with the primary key's bytes (through the left key serde) in base64. */
export function subscriptionSerdeOf<K>(keySerde: Serde<K> | undefined): Serde<Subscription<K>> {
  const serde = keySerde ?? Serdes.json<K>();
  return {
    async serialize(topic, s) {
      const k = (await serde.serialize(topic, s.primaryKey)).toString('base64');
      return Buffer.from(JSON.stringify({ h: s.hash, i: s.instruction, p: s.partition, k }));
    },
    async deserialize(topic, data) {
      const o = JSON.parse(data.toString('utf8')) as { h: string | null; i: Instruction; p: number; k: string };
      return { hash: o.h, instruction: o.i, partition: o.p, primaryKey: await serde.deserialize(topic, Buffer.from(o.k, 'base64')) };
    },
  };
}

/** Responses on their topic: JSON with the foreign value's bytes (through the right value serde) in base64. */
export function responseSerdeOf<VO>(valueSerde: Serde<VO> | undefined): Serde<SubscriptionResponse<VO>> {
  const serde = valueSerde ?? Serdes.json<VO>();
  return {
    async serialize(topic, r) {
      const v = r.foreignValue === null ? null : (await serde.serialize(topic, r.foreignValue)).toString('base64');
      return Buffer.from(JSON.stringify({ h: r.hash, p: r.partition, v }));
    },
    async deserialize(topic, data) {
      const o = JSON.parse(data.toString('utf8')) as { h: string | null; p: number; v: string | null };
      return { hash: o.h, partition: o.p, foreignValue: o.v === null ? null : await serde.deserialize(topic, Buffer.from(o.v, 'base64')) };
    },
  };
}
