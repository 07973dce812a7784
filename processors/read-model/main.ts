/**
 * The read-model projector as its own process. Transport and contracts from the environment
 * (processors/common/process.ts: TRANSPORT, SCHEMA_REGISTRY_URL, TOPIC_PREFIX…), the views'
 * database from PERSISTENCE / MONGO_URL / MONGO_DB / DATA_DIR (persistence/env.ts), the
 * projector's own settings from APP_ID, STOCK_APP_ID and PROJECTION_RETRY_* (projector.ts).
 * Prints `ready` once consuming; SIGTERM or SIGINT closes cleanly, a failure exits 2. With
 * METRICS_PORT (on METRICS_HOST, default 127.0.0.1) it answers `GET /health` while it runs, for
 * supervisors and container healthchecks, as the processors answer `/metrics`.
 */
import { createServer } from 'node:http';
import { exitOnSignalOrFailure, numberFromEnv, wiringFromEnv } from '../common/index.ts';
import { registryFromEnv } from '../../schemas/index.ts';
import { persistenceFromEnv } from '../../persistence/index.ts';
import { startProjection } from './projector.ts';

const env = process.env;
const { transport, contracts } = wiringFromEnv(env);
const persistence = persistenceFromEnv(env);
await persistence.ping();
const projection = await startProjection({ transport, registry: registryFromEnv(env).client, contracts, persistence, env });
const health = env.METRICS_PORT ? createServer((req, res) => {
  if (req.url !== '/health') { res.writeHead(404).end(); return; }
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'ok', applicationId: projection.applicationId }));
}).listen(numberFromEnv(env, 'METRICS_PORT', 0), env.METRICS_HOST || '127.0.0.1') : undefined;
exitOnSignalOrFailure(projection.applicationId, async () => {
  health?.close();
  await projection.close();
  await persistence.close();
  await transport.close();
}, projection.stopped());
process.stdout.write('ready\n');
