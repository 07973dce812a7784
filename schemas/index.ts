/**
 * The contracts: Avro schemas of every topic, their generated types, registry-backed serdes in
 * the Confluent wire format, validation, and a registry-free codec for state stores.
 */
export * from './generated/index.ts';
export {
  TOPICS, INTERNAL_RECORDS, topicNames, isTopicName, valueSubject, keyOf, recordType, topicType, schemaText, schemaFileOf,
  type TopicName, type TopicValue, type TopicContract, type RecordName,
} from './topics.ts';
export {
  avroValueSerde, recordSerde, avroSerde, readWireHeader, WIRE_HEADER_BYTES, type Serde, type RegistrySerde, type AvroSerdeOptions,
} from './serde.ts';
export { avroCodec, recordCodec, topicCodec, type Codec } from './codec.ts';
export { validate, recordValidator, compileValidator, type Validator, type ValidationProblem } from './validate.ts';
export {
  DeserializationError, RecordValidationError, SchemaRegistryError,
  type DeserializationReason, type SchemaRegistryFailure,
} from './errors.ts';
export { registryFromEnv, embeddedRegistry, remoteRegistry, type Registry } from './registry.ts';
export { sampleValue } from './samples.ts';
