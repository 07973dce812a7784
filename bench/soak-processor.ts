/**
 * A team processor as its own process for the soak run: what `runProcessorMain` does (environment
 * configuration, "ready" on stdout, clean close on SIGTERM, exit 2 on failure), plus GET /soak on
 * SOAK_PORT answering a `ProcessSample` (bench/soak-probe.ts) and GET /metrics (the engine's
 * exposition). `runProcessorMain` does not hand back its StreamsApp, which the sample reads.
 *
 *   SOAK_PROCESSOR=stock|order|payment|delivery SOAK_PORT=<port> + the processor environment
 */
import { createServer } from 'node:http';
import { exitOnSignalOrFailure, startProcessor, wiringFromEnv, type RunningProcessor } from '../processors/common/index.ts';
import { TEAM_SPECS } from '../processors/embedded.ts';
import { appSample, memorySample, type ProcessSample } from './soak-probe.ts';

const spec = TEAM_SPECS.find((s) => s.name === process.env.SOAK_PROCESSOR);
if (!spec) throw new Error(`SOAK_PROCESSOR must be one of ${TEAM_SPECS.map((s) => s.name).join(', ')}, not ${JSON.stringify(process.env.SOAK_PROCESSOR)}`);
const port = Number(process.env.SOAK_PORT);
if (!Number.isInteger(port) || port <= 0) throw new Error(`SOAK_PORT must be a port, not ${JSON.stringify(process.env.SOAK_PORT)}`);

/** Set once the processor runs (a holder: the server's handler reads it before then). */
const current: { running?: RunningProcessor } = {};
// Listening before the processor starts: the soak watches a restarted process restore.
const server = createServer((req, res) => {
  if (req.url === '/soak') {
    const { running } = current;
    const sample: ProcessSample = { pid: process.pid, ...memorySample(), ...(running ? appSample(running.app) : { tasks: [], recordsProcessed: 0, storeEntries: 0 }) };
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(sample));
  } else if (req.url === '/metrics' && current.running) {
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(current.running.app.metricsText());
  } else {
    res.writeHead(404).end();
  }
});
await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(port, '127.0.0.1', resolve); });

const { transport, contracts } = wiringFromEnv(process.env);
const started = await startProcessor(spec, { transport, contracts, env: process.env });
current.running = started;
exitOnSignalOrFailure(started.applicationId, async () => {
  server.close();
  await started.close();
  await transport.close();
}, started.stopped());
process.stdout.write('ready\n');
