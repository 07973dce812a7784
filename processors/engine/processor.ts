/**
 * The Processor API: what a user-written processor sees. Processing is synchronous; the runtime
 * does the I/O (consume, produce, changelog, commit) around it.
 */
import type { RecordMetadata, StreamRecord } from './record.ts';
import type { StateStore } from './stores/store.ts';

export interface Processor<KIn, VIn, KOut = never, VOut = never> {
  init?(context: ProcessorContext<KOut, VOut>): void;
  process(record: StreamRecord<KIn, VIn>): void;
  close?(): void;
}

export type ProcessorSupplier<KIn, VIn, KOut = never, VOut = never> = () => Processor<KIn, VIn, KOut, VOut>;

export type PunctuationType = 'stream-time' | 'wall-clock-time';
export type Punctuator = (timestamp: number) => void;

export interface Cancellable {
  cancel(): void;
}

export interface ProcessorContext<KOut, VOut> {
  readonly applicationId: string;
  /** `<subtopology>_<partition>`, as Kafka Streams' TaskId. */
  readonly taskId: string;
  readonly partition: number;
  /** Sends a record to every child, or to the named child only. */
  forward(record: StreamRecord<KOut, VOut>, childName?: string): void;
  /** Topic, partition and offset of the input record being processed; undefined inside a punctuator. */
  recordMetadata(): RecordMetadata | undefined;
  /** A store connected to this processor; an unconnected name is a TopologyError. */
  getStateStore<S extends StateStore>(name: string): S;
  /**
   * Calls `punctuator` every `intervalMs` of stream time (advanced by record timestamps) or of
   * wall-clock time (advanced by the runtime's clock, or by the test driver).
   */
  schedule(intervalMs: number, type: PunctuationType, punctuator: Punctuator): Cancellable;
  /** The highest record timestamp this task has seen (-1 before the first). */
  currentStreamTime(): number;
  currentSystemTime(): number;
  /** Asks the runtime to commit soon (after the current record). */
  commit(): void;
}
