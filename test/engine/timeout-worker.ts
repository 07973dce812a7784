/**
 * A process whose broker goes away for good: its app runs on a memory broker behind an outage,
 * kept by the processors' lifecycle (processors/common/lifecycle.ts), so it must exit 2 with the
 * reason once TASK_TIMEOUT_MS passes without progress.
 */
import { StreamsApp, StreamsBuilder } from '../../processors/engine/index.ts';
import { exitOnSignalOrFailure } from '../../processors/common/lifecycle.ts';
import { MemoryBroker, MemoryTransport } from '../../transports/index.ts';
import { Faults, faultyTransport } from './faulty-transport.ts';

const broker = new MemoryBroker();
const memory = new MemoryTransport({ broker });
await memory.admin().createTopics([{ name: 'in', partitions: 1 }, { name: 'out', partitions: 1 }]);
const faults = new Faults();
const b = new StreamsBuilder();
b.stream<string, string>('in').groupByKey().count({ storeName: 'n' }).toStream().mapValues(String).to('out');
const app = new StreamsApp(b.build(), {
  applicationId: 'timeout', transport: faultyTransport(memory, faults), guarantee: 'exactly_once', commitIntervalMs: 20,
  taskTimeoutMs: Number(process.env.TASK_TIMEOUT_MS ?? 300), retryBackoffMs: 10, retryBackoffMaxMs: 50,
  logger: (line) => process.stderr.write(`[timeout] ${line}\n`),
});
await app.start();
exitOnSignalOrFailure('timeout', () => app.close(), app.stopped());
process.stdout.write('ready\n');
faults.outage();
const producer = memory.producer();
await producer.connect();
await producer.send([{ topic: 'in', key: Buffer.from('"k"'), value: Buffer.from('"v"') }]);
