/**
 * Registry-backed Avro serdes in the Confluent wire format: magic byte 0, the schema id as a
 * 4-byte big-endian int, then the Avro binary body. The bytes are the same whichever transport
 * carries them (Kafka or RabbitMQ), and any Confluent-compatible consumer can read them.
 *
 * Subjects follow the topic-name strategy: values of topic T live under `T-value`, the topic
 * being the one passed to serialize/deserialize (so one serde can write a contract record to a
 * repartition or dead-letter topic too). Keys are plain strings, never Avro.
 *
 * Schema ids come from @confluentinc/schemaregistry's client (registered on first use, or
 * looked up; cached). The bytes are framed here: the 5-byte header, then avsc's encoding of the
 * value. The library's AvroSerializer, pinned to the same id, produces the same bytes (the tests
 * compare them for every topic) but costs ~120 µs a record against ~13 µs here: it runs its
 * rule engine and re-stringifies the whole schema for cache keys on every call.
 *
 * Reading fetches the writer's schema by id through the client and uses avsc's resolver to read
 * it as this serde's schema. The library's AvroDeserializer decodes with the writer's schema (or
 * the registry's latest), never with the consumer's own, so a consumer built against an older
 * or newer contract would get values that do not match its generated type; it also accepts
 * header-carried and GUID (magic byte 1) ids, which are not our wire format.
 */
import avsc from 'avsc';
import { RestError, type Client, type SchemaInfo } from '@confluentinc/schemaregistry';
import { DeserializationError, RecordValidationError, SchemaRegistryError } from './errors.ts';
import { TOPICS, schemaText, valueSubject, type RecordName, type TopicName, type TopicValue } from './topics.ts';
import { compileValidator, type Validator } from './validate.ts';
import { plain } from './plain.ts';
import { levelFor, loadCompatibilityConfig, setSubjectLevel, type CompatibilityConfig } from './compatibility.ts';
import type { CompatibilityLevel } from './compat.ts';
import type { Records } from './generated/index.ts';

/**
 * The engine's serde contract (structural: any object of this shape plugs in). Null values and
 * tombstones never reach a serde.
 */
export interface Serde<T> {
  serialize(topic: string, value: T): Buffer | Promise<Buffer>;
  deserialize(topic: string, data: Buffer): T | Promise<T>;
}

/** What the factories here return: a Serde whose answers are always promises (registry lookups). */
export interface RegistrySerde<T> extends Serde<T> {
  serialize(topic: string, value: T): Promise<Buffer>;
  deserialize(topic: string, data: Buffer): Promise<T>;
}

export interface AvroSerdeOptions {
  /**
   * Register the schema under `<topic>-value` on first use (default true). With false, the
   * schema must already be registered (by `npm run contracts -- register`), else serialize
   * throws SchemaRegistryError('not-registered').
   */
  readonly autoRegister?: boolean;
  /**
   * When registering, first set the subject's compatibility level in the registry, so that the
   * registry judges the registration as the contract gate would (Apicurio's default is NONE).
   * Default: the subject's level in schemas/compatibility.json; false leaves the registry alone.
   */
  readonly compatibility?: CompatibilityLevel | false;
}

/** Magic byte + 4-byte schema id. */
export const WIRE_HEADER_BYTES = 5;

/** Serde for the values of a topic of the contract map (schema and type from schemas/topics.ts). */
export function avroValueSerde<T extends TopicName>(
  client: Client,
  topic: T,
  options: AvroSerdeOptions = {},
): RegistrySerde<TopicValue<T>> {
  return recordSerde(client, TOPICS[topic].record, options) as RegistrySerde<TopicValue<T>>;
}

/** Serde for a contract record, whatever topic it is written to. */
export function recordSerde<R extends RecordName>(
  client: Client,
  record: R,
  options: AvroSerdeOptions = {},
): RegistrySerde<Records[R]> {
  return avroSerde<Records[R]>(client, schemaText(record), options);
}

/** Serde for any Avro schema (parsed JSON or its text). */
export function avroSerde<T>(client: Client, schema: object | string, options: AvroSerdeOptions = {}): RegistrySerde<T> {
  return new RegistryAvroSerde<T>(client, typeof schema === 'string' ? schema : JSON.stringify(schema), options);
}

/** Reads the Confluent header: [schema id, body]; throws DeserializationError if it is not one. */
export function readWireHeader(topic: string, data: Buffer): [number, Buffer] {
  if (data.length === 0) throw new DeserializationError({ reason: 'empty', topic, detail: 'payload is empty' });
  if (data[0] !== 0) {
    throw new DeserializationError({
      reason: 'bad-magic-byte',
      topic,
      detail: `first byte is 0x${(data[0] ?? 0).toString(16).padStart(2, '0')}, not the magic byte 0x00 of the Confluent wire format`,
    });
  }
  if (data.length < WIRE_HEADER_BYTES) {
    throw new DeserializationError({
      reason: 'truncated-header',
      topic,
      detail: `${data.length} bytes, shorter than the ${WIRE_HEADER_BYTES}-byte header`,
    });
  }
  return [data.readInt32BE(1), data.subarray(WIRE_HEADER_BYTES)];
}

// ---- implementation ----

class RegistryAvroSerde<T> implements RegistrySerde<T> {
  private readonly info: SchemaInfo;
  private readonly reader: avsc.Type;
  private readonly validator: Validator;
  private readonly autoRegister: boolean;
  private readonly compatibility: CompatibilityLevel | false | undefined;
  /** subject → the wire header (magic byte, this schema's id there), once known. */
  private readonly headers = new Map<string, Buffer>();
  private readonly pendingHeaders = new Map<string, Promise<Buffer>>();
  /** writer schema id → how to read its bodies (undefined: the writer's schema is ours). */
  private readonly resolvers = new Map<number, Promise<avsc.Resolver | undefined>>();

  constructor(
    private readonly client: Client,
    schema: string,
    options: AvroSerdeOptions,
  ) {
    const parsed = JSON.parse(schema) as avsc.Schema;
    this.info = { schemaType: 'AVRO', schema: JSON.stringify(parsed) };
    this.reader = avsc.Type.forSchema(parsed);
    this.validator = compileValidator(parsed);
    this.autoRegister = options.autoRegister ?? true;
    this.compatibility = options.compatibility;
  }

  async serialize(topic: string, value: T): Promise<Buffer> {
    const problems = this.validator.validate(value);
    if (problems.length > 0) throw new RecordValidationError(this.validator.name, problems, topic);
    const subject = valueSubject(topic);
    const header = this.headers.get(subject) ?? (await this.headerFor(subject));
    return Buffer.concat([header, this.reader.toBuffer(value)]);
  }

  async deserialize(topic: string, data: Buffer): Promise<T> {
    const [schemaId, body] = readWireHeader(topic, data);
    const resolver = await this.resolverFor(topic, schemaId);
    try {
      return plain(this.reader.fromBuffer(body, resolver, false)) as T;
    } catch (err) {
      const text = String(err instanceof Error ? err.message : err);
      const reason = /truncated/i.test(text) ? 'truncated-body' : /trailing/i.test(text) ? 'trailing-bytes' : 'invalid-body';
      throw new DeserializationError({ reason, topic, schemaId, detail: `${body.length}-byte body: ${text}` }, { cause: err });
    }
  }

  private headerFor(subject: string): Promise<Buffer> {
    let pending = this.pendingHeaders.get(subject);
    if (pending === undefined) {
      pending = this.schemaIdIn(subject).then((id) => {
        const header = Buffer.alloc(WIRE_HEADER_BYTES);
        header.writeInt32BE(id, 1);
        this.headers.set(subject, header);
        return header;
      });
      // A failure is not remembered: the next record asks again.
      pending.catch(() => this.pendingHeaders.delete(subject));
      this.pendingHeaders.set(subject, pending);
    }
    return pending;
  }

  private async schemaIdIn(subject: string): Promise<number> {
    try {
      if (!this.autoRegister) return await this.client.getId(subject, this.info, false);
      const level = this.compatibility ?? levelFor(compatibilityConfig(), subject);
      if (level !== false) await setSubjectLevel(this.client, subject, level);
      return await this.client.register(subject, this.info, false);
    } catch (err) {
      const status = err instanceof RestError ? err.status : undefined;
      if (status === 409) {
        const why = err instanceof Error ? err.message : String(err);
        throw new SchemaRegistryError('incompatible', subject, `the registry refused ${this.validator.name} as incompatible with the subject's earlier versions: ${why} (npm run contracts -- check explains by field)`, { cause: err });
      }
      if (status === 404 && !this.autoRegister) {
        throw new SchemaRegistryError('not-registered', subject, `${this.validator.name} is not registered under this subject (run npm run contracts -- register)`, { cause: err });
      }
      throw new SchemaRegistryError('unavailable', subject, String(err), { cause: err });
    }
  }

  private resolverFor(topic: string, schemaId: number): Promise<avsc.Resolver | undefined> {
    let pending = this.resolvers.get(schemaId);
    if (pending === undefined) {
      pending = this.makeResolver(topic, schemaId);
      pending.catch(() => this.resolvers.delete(schemaId));
      this.resolvers.set(schemaId, pending);
    }
    return pending;
  }

  private async makeResolver(topic: string, schemaId: number): Promise<avsc.Resolver | undefined> {
    let writer: SchemaInfo;
    try {
      writer = await this.client.getBySubjectAndId(valueSubject(topic), schemaId);
    } catch (err) {
      const unknown = err instanceof RestError && err.status === 404;
      throw new DeserializationError(
        {
          reason: unknown ? 'unknown-schema-id' : 'registry-unavailable',
          topic,
          schemaId,
          detail: unknown ? 'the registry has no schema with this id' : `the registry could not be asked: ${String(err)}`,
        },
        { cause: err },
      );
    }
    try {
      const writerType = avsc.Type.forSchema(JSON.parse(writer.schema) as avsc.Schema);
      return writerType.equals(this.reader) ? undefined : this.reader.createResolver(writerType);
    } catch (err) {
      throw new DeserializationError(
        {
          reason: 'incompatible-schema',
          topic,
          schemaId,
          detail: `records written with schema ${schemaId} cannot be read as ${this.validator.name}: ${String(err instanceof Error ? err.message : err)}`,
        },
        { cause: err },
      );
    }
  }
}

let config: CompatibilityConfig | undefined;

function compatibilityConfig(): CompatibilityConfig {
  config ??= loadCompatibilityConfig();
  return config;
}
