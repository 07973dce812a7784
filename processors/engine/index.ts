/** The engine's public surface: DSL, Processor API, stores, runtime, test driver. */
export { StreamsBuilder } from './dsl/builder.ts';
// Streams, tables and their groupings are types only: StreamsBuilder and the DSL create them
// (their constructors take the builder's internals), as in Kafka Streams.
export type { KStream, BranchedKStream, KeyValuePair } from './dsl/kstream.ts';
export type { KTable, JoinKind } from './dsl/ktable.ts';
export type { KGroupedStream, Aggregator, Initializer, Reducer } from './dsl/grouped-stream.ts';
export type { KGroupedTable } from './dsl/grouped-table.ts';
export type { GlobalKTable } from './dsl/global-table.ts';
export type { Consumed, Produced, Materialized, Grouped, Repartitioned, Named } from './dsl/options.ts';
export { Topology, changelogName, repartitionName, type Subtopology, type TimestampExtractor } from './topology.ts';
export {
  TopologyDescription, type SubtopologyDescription, type GlobalStoreDescription, type InternalTopicDescription,
  type NodeDescription, type SourceDescription, type ProcessorDescription, type SinkDescription, type MermaidOptions,
} from './describe.ts';
export type { Processor, ProcessorContext, ProcessorSupplier, Punctuator, PunctuationType, Cancellable } from './processor.ts';
export type { StreamRecord, RecordMetadata, Change, Headers } from './record.ts';
export { Serdes, type Serde, type Codec, type SyncSerde } from './serde.ts';
export { keyValueStore, type KeyValueStoreOptions } from './stores/key-value.ts';
export type { StateStore, KeyValueStore, ReadOnlyKeyValueStore, KeyValue, StoreBuilder } from './stores/store.ts';
export { TopologyTestDriver, type TestDriverOptions, type PipeOptions } from './runtime/test-driver.ts';
export { DeadLetterHeaders, type ErrorHandling, type ErrorPolicy } from './runtime/error-handling.ts';
export * from './errors.ts';
export { StreamsApp, type StreamsState } from './runtime/streams.ts';
export { prometheusText, escapeLabel, type Metrics } from './runtime/metrics.ts';
export type { StreamsConfig, ProcessingGuarantee } from './runtime/config.ts';
export type { SnapshotPolicy } from './runtime/snapshots.ts';
export { Deduplicator, ORIGIN_HEADER, decodeOrigin } from './runtime/effectively-once.ts';
export { isMarker, MARKER_HEADER, MARKER_KEY } from './runtime/read-to-end.ts';
// Windows, windowed aggregations, suppression, stream–stream and foreign-key joins.
export { TimeWindows, SlidingWindows, SessionWindows, JoinWindows, type Window } from './dsl/windows.ts';
export { WindowedSerdes, type Windowed, type WindowedSerde } from './dsl/windowed.ts';
export type { TimeWindowedKStream, WindowedMaterialized } from './dsl/windowed-stream.ts';
export type { SessionWindowedKStream, Merger } from './dsl/session-windowed-stream.ts';
export { droppedLateRecords } from './dsl/window-metadata.ts';
export { windowStore, type WindowStore, type ReadOnlyWindowStore, type WindowStoreOptions, type WindowStoreEntry, type WindowedKeyValue } from './stores/window.ts';
export { sessionStore, type SessionStore, type ReadOnlySessionStore, type SessionStoreOptions } from './stores/session.ts';
export { Suppressed, BufferConfig, type BufferFullStrategy } from './dsl/suppress.ts';
export type { StreamJoined, StreamJoiner } from './dsl/stream-stream-join.ts';
export type { ForeignKeyJoiner } from './dsl/foreign-key-join.ts';
