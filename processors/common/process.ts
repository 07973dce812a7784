/**
 * Running a team processor: in this process beside others (the embedded main job shares one
 * transport), or as its own process configured from the environment (`runProcessorMain`).
 *
 * Environment of a processor process:
 *   TRANSPORT=memory|kafka|rabbit, KAFKA_BROKERS, RABBIT_URL     which broker (transports/index.ts)
 *   SCHEMA_REGISTRY_URL       Confluent-API registry; unset → in-process registry
 *   GUARANTEE                 exactly_once (default) | at_least_once
 *   APP_ID                    default `<name>-processor`: consumer group, internal topic prefix
 *   INSTANCE_ID               default `1`: stable per instance (Kafka transactional id)
 *   STATE_DIR                 where persistent stores live
 *   TOPIC_PREFIX              prepended to every contract topic (isolates tenants and test runs)
 *   TOPIC_PARTITIONS          partitions of contract topics the contract leaves open (default 3)
 *   COMMIT_INTERVAL_MS        engine commit interval
 *   IDLE_COMMIT_MS            commit this long after the input pauses (default 5; 0: interval only)
 *   TASK_TIMEOUT_MS           how long tasks may make no progress through retriable failures (the
 *                             broker away) before the processor exits 2 with the reason (default 300000)
 *   SNAPSHOT_MIN_RECORDS, SNAPSHOT_RATIO, CHANGELOG_RETENTION_BYTES, CHANGELOG_SEGMENT_BYTES
 *                             where the broker does not compact (RabbitMQ): when a store is written
 *                             whole to a snapshot, and its changelog's retention (engine defaults:
 *                             10000, 2, 256 MiB, 16 MiB; runtime/snapshots.ts)
 *   METRICS_PORT              serve Prometheus metrics on <METRICS_HOST>:<port>/metrics
 *   METRICS_HOST              default 127.0.0.1; 0.0.0.0 to be scraped from other hosts (containers)
 */
import { createServer, type Server } from 'node:http';
import { StreamsApp, type ProcessingGuarantee, type SnapshotPolicy, type Topology } from '../engine/index.ts';
import { createTransport, transportConfigFromEnv, type Transport } from '../../transports/index.ts';
import { registryFromEnv, type TopicName } from '../../schemas/index.ts';
import { registryContracts, type Contracts } from './contracts.ts';
import { ensureContractTopics } from './topics.ts';
import { numberFromEnv, type Env } from './env.ts';
import { exitOnSignalOrFailure } from './lifecycle.ts';


/** Work a processor runs beside its topology, e.g. payment's calls to the payment gateway. */
export interface Sidecar {
  close(): Promise<void>;
  /** Rejects when the sidecar fails for good. */
  stopped(): Promise<void>;
}

export interface SidecarContext {
  readonly transport: Transport;
  readonly contracts: Contracts;
  readonly applicationId: string;
  readonly env: Env;
  readonly logger: (line: string) => void;
}

export interface ProcessorSpec {
  /** Team name: order, stock, payment, delivery. */
  readonly name: string;
  /** Contract topics the processor reads or writes; created when missing. */
  readonly topics: readonly TopicName[];
  readonly topology: (contracts: Contracts, env: Env) => Topology;
  readonly sidecar?: (context: SidecarContext) => Promise<Sidecar>;
}

export interface ProcessorOptions {
  readonly transport: Transport;
  readonly contracts: Contracts;
  readonly env?: Env;
  readonly logger?: (line: string) => void;
}

export interface RunningProcessor {
  readonly app: StreamsApp;
  readonly applicationId: string;
  close(): Promise<void>;
  /** Rejects when the topology or a sidecar fails for good. */
  stopped(): Promise<void>;
}

export function guaranteeFromEnv(env: Env): ProcessingGuarantee {
  const g = env.GUARANTEE ?? 'exactly_once';
  if (g !== 'exactly_once' && g !== 'at_least_once') throw new Error(`GUARANTEE must be exactly_once or at_least_once, not ${JSON.stringify(g)}`);
  return g;
}

/** The transport and the contract wiring a process configured by the environment uses. */
export function wiringFromEnv(env: Env): { transport: Transport; contracts: Contracts } {
  return {
    transport: createTransport(transportConfigFromEnv(env)),
    contracts: registryContracts(registryFromEnv(env).client, env.TOPIC_PREFIX ?? ''),
  };
}

/** Creates the processor's topics, starts its topology and sidecar. */
export async function startProcessor(spec: ProcessorSpec, options: ProcessorOptions): Promise<RunningProcessor> {
  const env = options.env ?? {};
  const applicationId = env.APP_ID ?? `${spec.name}-processor`;
  const logger = options.logger ?? ((line: string) => process.stderr.write(`[${applicationId}] ${line}\n`));
  await ensureContractTopics(options.transport.admin(), options.contracts, spec.topics, { partitions: numberFromEnv(env, 'TOPIC_PARTITIONS', 3) });
  const commitIntervalMs = env.COMMIT_INTERVAL_MS ? numberFromEnv(env, 'COMMIT_INTERVAL_MS', 100) : undefined;
  const idleCommitMs = env.IDLE_COMMIT_MS ? numberFromEnv(env, 'IDLE_COMMIT_MS', 5) : undefined;
  const taskTimeoutMs = env.TASK_TIMEOUT_MS ? numberFromEnv(env, 'TASK_TIMEOUT_MS', 300_000) : undefined;
  const snapshots = snapshotsFromEnv(env);
  const app = new StreamsApp(spec.topology(options.contracts, env), {
    applicationId,
    transport: options.transport,
    guarantee: guaranteeFromEnv(env),
    instanceId: env.INSTANCE_ID ?? '1',
    ...(env.STATE_DIR ? { stateDir: env.STATE_DIR } : {}),
    ...(commitIntervalMs !== undefined ? { commitIntervalMs } : {}),
    ...(taskTimeoutMs !== undefined ? { taskTimeoutMs } : {}),
    ...(idleCommitMs !== undefined ? { idleCommitMs } : {}),
    snapshots,
    errors: { deserialization: 'dead-letter', processing: 'dead-letter' },
    logger,
  });
  await app.start();
  let sidecar: Sidecar | undefined;
  try {
    sidecar = await spec.sidecar?.({ transport: options.transport, contracts: options.contracts, applicationId, env, logger });
  } catch (e) {
    await app.close();
    throw e;
  }
  return {
    app,
    applicationId,
    async close() {
      await sidecar?.close();
      await app.close();
    },
    stopped: () => Promise.race([app.stopped(), ...(sidecar ? [sidecar.stopped()] : [])]),
  };
}

/**
 * A processor as its own process: configuration from the environment, "ready" on stdout once
 * running, a clean close on SIGTERM or SIGINT, exit code 2 when it fails.
 */
export async function runProcessorMain(spec: ProcessorSpec, env: Env = process.env): Promise<void> {
  const { transport, contracts } = wiringFromEnv(env);
  const running = await startProcessor(spec, { transport, contracts, env });
  const metrics = env.METRICS_PORT ? await serveMetrics(running.app, numberFromEnv(env, 'METRICS_PORT', 0), env.METRICS_HOST || '127.0.0.1') : undefined;
  exitOnSignalOrFailure(running.applicationId, async () => {
    metrics?.close();
    await running.close();
    await transport.close();
  }, running.stopped());
  process.stdout.write('ready\n');
}

function serveMetrics(app: StreamsApp, port: number, host: string): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.url !== '/metrics') { res.writeHead(404).end(); return; }
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(app.metricsText());
  });
  return new Promise((resolve) => server.listen(port, host, () => resolve(server)));
}

/** The snapshot policy's settings given in the environment (the rest are the engine's defaults). */
function snapshotsFromEnv(env: Env): Partial<SnapshotPolicy> {
  const names = { minRecords: 'SNAPSHOT_MIN_RECORDS', ratio: 'SNAPSHOT_RATIO', retentionBytes: 'CHANGELOG_RETENTION_BYTES', segmentBytes: 'CHANGELOG_SEGMENT_BYTES' } as const;
  const out: { -readonly [K in keyof SnapshotPolicy]?: number } = {};
  for (const [field, name] of Object.entries(names) as [keyof SnapshotPolicy, string][]) if (env[name]) out[field] = numberFromEnv(env, name, 0);
  return out;
}
