/**
 * The gateway as its own process: transport, registry, database and settings from the
 * environment (config.ts lists them; JWT_SECRET is required here). Prints `ready <url>`;
 * SIGTERM closes cleanly.
 */
import { pino } from 'pino';
import { ensureContractTopics, exitOnSignalOrFailure, numberFromEnv, wiringFromEnv } from '../processors/common/index.ts';
import { persistenceFromEnv } from '../persistence/index.ts';
import { registryFromEnv } from '../schemas/index.ts';
import { startGateway } from './app.ts';
import { gatewayConfigFromEnv } from './config.ts';
import { GATEWAY_TOPICS } from './topics.ts';

const env = process.env;
const config = gatewayConfigFromEnv(env);
const { transport, contracts } = wiringFromEnv(env);
const persistence = persistenceFromEnv(env);
await ensureContractTopics(transport.admin(), contracts, GATEWAY_TOPICS, { partitions: numberFromEnv(env, 'TOPIC_PARTITIONS', 3) });
const logger = pino({ level: config.logLevel, base: { service: 'gateway', gatewayId: config.gatewayId } });
const gateway = await startGateway({ transport, registry: registryFromEnv(env), contracts, persistence, logger }, config);
exitOnSignalOrFailure('gateway', async () => {
  await gateway.close();
  await persistence.close();
  await transport.close();
}, gateway.stopped());
process.stdout.write(`ready ${gateway.url}\n`);
