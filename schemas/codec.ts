/**
 * A synchronous Avro codec without a registry, for bytes that never leave the process's own
 * storage (state-store values): plain Avro binary, no header, no schema id. The reader must use
 * the schema the writer used; for anything shared between programs use the registry serde.
 */
import avsc from 'avsc';
import { RecordValidationError } from './errors.ts';
import { plain } from './plain.ts';
import { TOPICS, recordType, type RecordName, type TopicName, type TopicValue } from './topics.ts';
import { compileValidator, recordValidator, type Validator } from './validate.ts';
import type { Records } from './generated/index.ts';

export interface Codec<T> {
  /** Validates (throws RecordValidationError) and encodes. */
  encode(value: T): Buffer;
  decode(bytes: Buffer): T;
}

/** A codec for any Avro schema (parsed JSON or text). */
export function avroCodec<T>(schema: object | string): Codec<T> {
  const parsed = (typeof schema === 'string' ? JSON.parse(schema) : schema) as avsc.Schema;
  return makeCodec<T>(avsc.Type.forSchema(parsed), compileValidator(parsed));
}

/** A codec for one of the contract records. */
export function recordCodec<R extends RecordName>(record: R): Codec<Records[R]> {
  return makeCodec<Records[R]>(recordType(record), recordValidator(record));
}

/** A codec for the values of a topic of the contract map. */
export function topicCodec<T extends TopicName>(topic: T): Codec<TopicValue<T>> {
  return recordCodec(TOPICS[topic].record) as Codec<TopicValue<T>>;
}

function makeCodec<T>(type: avsc.Type, validator: Validator): Codec<T> {
  return {
    encode(value) {
      const problems = validator.validate(value);
      if (problems.length > 0) throw new RecordValidationError(validator.name, problems);
      return type.toBuffer(value);
    },
    decode(bytes) {
      return plain(type.fromBuffer(bytes)) as T;
    },
  };
}
