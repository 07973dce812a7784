/**
 * The whole system in one process, the embedded default of `npm start`: the four processors and
 * the payment-gateway simulator, the read-model projection and the gateway, on one transport
 * (memory unless TRANSPORT says otherwise), one registry (in process unless SCHEMA_REGISTRY_URL)
 * and one database (embedded LMDB unless MONGO_URL / PERSISTENCE).
 */
import { randomBytes } from 'node:crypto';
import { pino, type Logger } from 'pino';
import { ensureContractTopics, numberFromEnv, startProcessor, type Contracts, type Env } from '../processors/common/index.ts';
import { registryContracts } from '../processors/common/contracts.ts';
import { startEmbeddedProcessors, type EmbeddedProcessors } from '../processors/embedded.ts';
import { startProjection } from '../processors/read-model/index.ts';
import { reportsSpec, reportStorageFromEnv } from '../processors/reports/index.ts';
import { prometheusText } from '../processors/engine/index.ts';
import { persistenceFromEnv } from '../persistence/index.ts';
import { embeddedPersistence } from '../persistence/embedded.ts';
import type { Persistence } from '../persistence/types.ts';
import { registryFromEnv, type Registry } from '../schemas/index.ts';
import { createTransport, transportConfigFromEnv, type Transport } from '../transports/index.ts';
import { startGateway, type Gateway } from './app.ts';
import { gatewayConfigFromEnv } from './config.ts';
import { seedDemo } from './seed.ts';
import { GATEWAY_TOPICS } from './topics.ts';

export interface System {
  readonly gateway: Gateway;
  readonly transport: Transport;
  readonly contracts: Contracts;
  readonly registry: Registry;
  readonly persistence: Persistence;
  /** The JWT secret in use (generated when JWT_SECRET is unset), for a second gateway instance in tests. */
  readonly jwtSecret: string;
  readonly processors: EmbeddedProcessors;
  /** Whether the JWT secret was generated for this run (no JWT_SECRET given). */
  readonly generatedSecret: boolean;
  close(): Promise<void>;
  stopped(): Promise<void>;
}

export interface SystemOptions {
  /** Create the demo seller, buyer and products. Default true. */
  readonly seed?: boolean;
  readonly logger?: Logger;
  /**
   * Prepended to every application id (processors, projection), so that runs sharing a broker
   * keep their groups and internal topics apart; TOPIC_PREFIX does the same for contract topics.
   */
  readonly appIdPrefix?: string;
}

export async function startSystem(env: Env, options: SystemOptions = {}): Promise<System> {
  const generatedSecret = !env.JWT_SECRET;
  const config = gatewayConfigFromEnv(env, { jwtSecret: randomBytes(32).toString('base64url') });
  const logger = options.logger ?? pino({ level: config.logLevel, base: { service: 'orderstream' } });
  const transport = createTransport(transportConfigFromEnv(env));
  const registry = registryFromEnv(env);
  const contracts = registryContracts(registry.client, env.TOPIC_PREFIX ?? '');
  // On the memory transport every topic starts empty, so a database kept from an earlier run
  // would hold users the order processor never heard of: a fresh one unless asked otherwise.
  const persistence = transport.name === 'memory' && !env.MONGO_URL && !env.DATA_DIR && !env.PERSISTENCE
    ? embeddedPersistence({})
    : persistenceFromEnv(env);
  const closers: (() => Promise<void>)[] = [() => transport.close(), () => persistence.close()];
  const close = async () => { for (const c of closers.splice(0).reverse()) await c().catch((e: unknown) => logger.error({ err: e }, 'closing')); };
  try {
    await ensureContractTopics(transport.admin(), contracts, GATEWAY_TOPICS, { partitions: numberFromEnv(env, 'TOPIC_PARTITIONS', 3) });
    const prefix = options.appIdPrefix ?? '';
    // The in-process PG simulator takes a free port unless told: nothing outside needs to find it.
    const processors = await startEmbeddedProcessors(transport, contracts, { PG_PORT: '0', ...env }, (line) => logger.info({ component: 'processors' }, line), { appIdPrefix: prefix });
    closers.push(() => processors.close());
    const projection = await startProjection({ transport, registry: registry.client, contracts, persistence, env: { ...env, APP_ID: `${prefix}read-model-projector`, STOCK_APP_ID: `${prefix}stock-processor` }, logger: (line) => logger.info({ component: 'read-model' }, line) });
    closers.push(() => projection.close());
    const reportStorage = reportStorageFromEnv(env);
    const reports = await startProcessor(reportsSpec({ storage: reportStorage }), { transport, contracts, env: { ...env, APP_ID: `${prefix}reports-processor` }, logger: (line) => logger.info({ component: 'reports' }, line) });
    closers.push(() => reports.close());
    const gateway = await startGateway({
      transport, registry, contracts, persistence, logger, reports: reportStorage,
      extraMetrics: () => prometheusText(processors.processors.map((p) => [p.applicationId, p.app.metrics] as const)),
    }, config);
    closers.push(() => gateway.close());
    if (options.seed ?? true) await seedDemo(gateway.url);
    return {
      gateway, transport, contracts, registry, persistence, jwtSecret: config.jwt.secret, processors, generatedSecret, close,
      stopped: () => Promise.race([processors.stopped(), projection.stopped(), reports.stopped(), gateway.stopped()]),
    };
  } catch (e) {
    await close();
    throw e;
  }
}
