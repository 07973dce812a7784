/**
 * The main job: every processor of the order system in one process. Transport from TRANSPORT
 * (default memory, the embedded default), schema registry from SCHEMA_REGISTRY_URL (default in
 * process). `npm start`; Ctrl-C stops it cleanly.
 */
import { createTransport, transportConfigFromEnv } from './transports/index.ts';
import { registryFromEnv } from './schemas/index.ts';
import { registryContracts } from './processors/common/index.ts';
import { startEmbeddedProcessors } from './processors/embedded.ts';

const env = process.env;
const transport = createTransport(transportConfigFromEnv(env));
const contracts = registryContracts(registryFromEnv(env).client, env.TOPIC_PREFIX ?? '');
const job = await startEmbeddedProcessors(transport, contracts, env);
process.stdout.write(`orderstream: ${job.processors.map((p) => p.applicationId).join(', ')} running on ${transport.name}${job.pg ? `; payment gateway simulator at ${job.pg.url}` : ''}\n`);

let closing = false;
const shutdown = (code: number) => {
  if (closing) return;
  closing = true;
  void job.close().then(() => transport.close()).then(() => process.exit(code), (e: unknown) => {
    process.stderr.write(`orderstream: close failed: ${String(e)}\n`);
    process.exit(1);
  });
};
process.on('SIGINT', () => shutdown(0));
process.on('SIGTERM', () => shutdown(0));
job.stopped().catch((e: unknown) => {
  process.stderr.write(`orderstream: a processor failed: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
  shutdown(2);
});
