/**
 * The main job: every processor of the order system in one process. Transport from TRANSPORT
 * (default memory, the embedded default), schema registry from SCHEMA_REGISTRY_URL (default in
 * process). `npm start`; Ctrl-C stops it cleanly.
 */
import { exitOnSignalOrFailure, wiringFromEnv } from './processors/common/index.ts';
import { startEmbeddedProcessors } from './processors/embedded.ts';

const { transport, contracts } = wiringFromEnv(process.env);
const job = await startEmbeddedProcessors(transport, contracts, process.env);
exitOnSignalOrFailure('orderstream', async () => {
  await job.close();
  await transport.close();
}, job.stopped());
process.stdout.write(`orderstream: ${job.processors.map((p) => p.applicationId).join(', ')} running on ${transport.name}${job.pg ? `; payment gateway simulator at ${job.pg.url}` : ''}\n`);

