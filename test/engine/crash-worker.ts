/**
 * A worker process running the crash topology until SIGTERM (graceful close) or SIGKILL.
 * Env: TRANSPORT and its settings, CRASH_ID, APP_ID, INSTANCE_ID, GUARANTEE. Prints "ready" once running.
 */
import { StreamsApp } from '../../processors/engine/index.ts';
import { createTransport, transportConfigFromEnv } from '../../transports/index.ts';
import { crashTopics, crashTopology } from './crash-topology.ts';

const env = process.env;
const transport = createTransport(transportConfigFromEnv(env));
const app = new StreamsApp(crashTopology(crashTopics(env.CRASH_ID!)), {
  applicationId: env.APP_ID!,
  instanceId: env.INSTANCE_ID ?? 'w1',
  transport,
  guarantee: env.GUARANTEE === 'exactly_once' ? 'exactly_once' : 'at_least_once',
  commitIntervalMs: 100,
  logger: (line) => process.stderr.write(`[worker ${env.INSTANCE_ID}] ${line}\n`),
});
process.on('SIGTERM', () => {
  void app.close().then(() => transport.close()).then(() => process.exit(0), () => process.exit(1));
});
app.stopped().catch((e: unknown) => {
  process.stderr.write(`[worker ${env.INSTANCE_ID}] failed: ${String(e)}\n`);
  process.exit(2);
});
await app.start();
process.stdout.write('ready\n');
