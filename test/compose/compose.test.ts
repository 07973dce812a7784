/**
 * The compose files against the code: docker-compose accepts them, every process entry of the
 * repository is a service built from the one Dockerfile, each service sets only variables its
 * code reads (env-reads.ts scans the entry's modules) and every variable it needs in a
 * container, the addresses, ports and health checks agree with what the code's own parsers make
 * of that environment, and dependencies wait for health. Renaming a variable in the code,
 * removing an entry or adding a processor without a service fails here.
 *
 * No Docker engine is involved: `docker-compose config` resolves the files offline. Without the
 * binary (`bash scripts/services up` installs it) the checks skip and say so.
 */
import test from 'ava';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gatewayConfigFromEnv } from '../../gateway/config.ts';
import { persistenceConfigFromEnv } from '../../persistence/index.ts';
import { numberFromEnv } from '../../processors/common/env.ts';
import { guaranteeFromEnv } from '../../processors/common/process.ts';
import { pgConfigFromEnv } from '../../processors/payment/pg-simulator.ts';
import { transportConfigFromEnv } from '../../transports/index.ts';
import { compose, composeBinary, resolvedConfig, type ComposeModel, type ComposeService } from './compose-cli.ts';
import { envNamesIn, envReadsOf } from './env-reads.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const FILES = { kafka: 'docker-compose.kafka.yml', rabbit: 'docker-compose.rabbit.yml' } as const;
type Broker = keyof typeof FILES;
const BROKERS = Object.keys(FILES) as Broker[];
/** What the files require from whoever starts them; ≥ 32 bytes like the gateway wants. */
const SECRET = { JWT_SECRET: 'compose-test-secret-0123456789abcdef-0123456789' };

/** How each file reaches its broker and registry: every service of ours needs all of these. */
const WIRING: Record<Broker, readonly string[]> = {
  kafka: ['TRANSPORT', 'KAFKA_BROKERS', 'SCHEMA_REGISTRY_URL'],
  rabbit: ['TRANSPORT', 'RABBIT_URL', 'RABBIT_MANAGEMENT_URL', 'SCHEMA_REGISTRY_URL'],
};

/**
 * Variables whose defaults are wrong in a container (127.0.0.1 is the container itself, an
 * unset registry is a private in-process one, an unset METRICS_PORT leaves the health check
 * nothing to ask): they must be set, beside the wiring. Kinds are told apart by the entry.
 */
const NEEDED: Record<Kind, readonly string[]> = {
  gateway: ['HOST', 'PORT', 'JWT_SECRET', 'MONGO_URL'],
  processor: ['METRICS_PORT', 'STATE_DIR'],
  'read-model': ['MONGO_URL'],
  'pg-simulator': [],
};
const NEEDED_BY_ENTRY: Record<string, readonly string[]> = { 'processors/payment/main.ts': ['PG_URL'] };

type Kind = 'gateway' | 'processor' | 'read-model' | 'pg-simulator';

interface Ours {
  readonly service: ComposeService;
  readonly entry: string;
  readonly kind: Kind;
}

const binary = composeBinary();
const models = new Map<Broker, ComposeModel>();

test.before(() => {
  if (!binary) return;
  for (const b of BROKERS) models.set(b, resolvedConfig(binary, ROOT, FILES[b], SECRET));
});

const check = binary ? test : test.skip;
if (!binary) {
  test.skip('docker-compose is not installed, so the compose files are not checked (bash scripts/services up installs it)', () => {});
}

for (const broker of BROKERS) {
  const file = FILES[broker];

  check(`${file}: docker-compose accepts it`, (t) => {
    const r = compose(binary!, ROOT, file, ['config', '-q'], SECRET);
    t.is(r.status, 0, r.stderr);
  });

  check(`${file}: JWT_SECRET has no default, starting without it is refused`, (t) => {
    const r = compose(binary!, ROOT, file, ['config', '-q'], {});
    t.not(r.status, 0);
    t.regex(r.stderr, /JWT_SECRET/);
  });

  check(`${file}: every process entry of the repository is one service, run with tsx from the one Dockerfile`, (t) => {
    const ours = oursIn(models.get(broker)!);
    t.deepEqual(ours.map((o) => o.entry).sort(), processEntries().sort(), 'services of ours (with build) vs entries in the repo');
    t.true(existsSync(join(ROOT, 'Dockerfile')));
    for (const { service, entry } of ours) {
      t.true(existsSync(join(ROOT, entry)), `${service.name}: ${entry} does not exist`);
      t.true(service.command.join(' ').includes(`node --import tsx ${entry}`), `${service.name}: ${service.command.join(' ')}`);
      t.is(service.build!.context, ROOT, `${service.name}: build context`);
      t.is(service.build!.dockerfile, 'Dockerfile', `${service.name}: dockerfile`);
    }
    t.is(new Set(ours.map((o) => o.service.image)).size, 1, 'one image for all');
  });

  check(`${file}: each service of ours sets only variables its code reads`, (t) => {
    const unread: string[] = [];
    for (const { service, entry } of oursIn(models.get(broker)!)) {
      const reads = envReadsOf(ROOT, entry).names;
      for (const name of Object.keys(service.environment)) {
        if (!reads.has(name)) unread.push(`${service.name} sets ${name}, which no module of ${entry} reads`);
      }
    }
    t.deepEqual(unread, []);
  });

  check(`${file}: each service of ours sets what it needs in a container`, (t) => {
    const missing: string[] = [];
    for (const { service, entry, kind } of oursIn(models.get(broker)!)) {
      const reads = envReadsOf(ROOT, entry).names;
      const needed = [...(kind === 'pg-simulator' ? [] : WIRING[broker]), ...NEEDED[kind], ...(NEEDED_BY_ENTRY[entry] ?? [])];
      for (const name of needed) {
        // The list itself must follow the code: a name it reads no more is a stale requirement.
        if (!reads.has(name)) missing.push(`${entry} no longer reads ${name}: update this test's list`);
        else if (!(service.environment[name] ?? '').trim()) missing.push(`${service.name} does not set ${name}`);
      }
    }
    t.deepEqual(missing, []);
  });

  check(`${file}: the addresses the code makes of each environment are services it waits for, healthy`, (t) => {
    const model = models.get(broker)!;
    const problems: string[] = [];
    for (const { service, kind } of oursIn(model)) {
      const env = service.environment;
      const targets: string[] = [];
      if (kind !== 'pg-simulator') {
        const transport = transportConfigFromEnv(env);
        t.is(transport.transport, broker, `${service.name}: TRANSPORT`);
        if (transport.transport === 'kafka') targets.push(...transport.brokers.map((b) => `tcp://${b}`));
        if (transport.transport === 'rabbit') targets.push(transport.url, transport.managementUrl ?? `http://${new URL(transport.url).hostname}:15672`);
        targets.push(env.SCHEMA_REGISTRY_URL!);
        t.notThrows(() => guaranteeFromEnv(env), `${service.name}: GUARANTEE`);
      }
      if (kind === 'gateway' || kind === 'read-model') {
        const persistence = persistenceConfigFromEnv(env, ROOT);
        if (persistence.kind !== 'mongo') problems.push(`${service.name}: persistence is ${persistence.kind}, not mongo`);
        else targets.push(persistence.url);
      }
      if (env.PG_URL) targets.push(env.PG_URL);
      for (const target of targets) {
        const url = new URL(target);
        const host = url.hostname;
        if (host === '127.0.0.1' || host === 'localhost') {
          // Loopback is this container, or the one whose network it joins.
          const joined = service.networkMode?.replace(/^service:/, '');
          if (!joined || !model.services.has(joined)) problems.push(`${service.name}: ${target} is its own loopback and it joins no service's network`);
          else if (service.dependsOn[joined] !== 'service_healthy') problems.push(`${service.name}: does not wait for ${joined} (healthy), whose ${target} it calls`);
          else if (joined === 'pg-simulator') {
            const pgPort = pgConfigFromEnv(model.services.get(joined)!.environment).port;
            if (Number(url.port) !== pgPort) problems.push(`${service.name}: ${target}, but pg-simulator listens on ${pgPort}`);
          }
        } else if (!model.services.has(host)) problems.push(`${service.name}: ${target} names no service`);
        else if (service.dependsOn[host] !== 'service_healthy') problems.push(`${service.name}: does not wait for ${host} (healthy), which ${target} names`);
      }
    }
    t.deepEqual(problems, []);
  });

  check(`${file}: published ports and health checks are the ports the code listens on`, (t) => {
    for (const { service, kind } of oursIn(models.get(broker)!)) {
      const env = service.environment;
      const health = healthUrl(service);
      if (kind === 'gateway') {
        const config = gatewayConfigFromEnv(env);
        t.is(config.host, '0.0.0.0', 'the gateway must listen beyond the container');
        t.deepEqual(service.ports.map((p) => p.target), [config.port], 'published container port is PORT');
        t.deepEqual(health && [health.port, health.path], [config.port, '/ready']);
      } else if (kind === 'processor') {
        // The metrics server binds 127.0.0.1 (processors/common/process.ts): checkable inside only.
        t.deepEqual(health && [health.host, health.port, health.path], ['127.0.0.1', numberFromEnv(env, 'METRICS_PORT', 0), '/metrics'], service.name);
        t.deepEqual(service.ports, [], `${service.name}: publishes a port nothing listens on from outside`);
      } else if (kind === 'pg-simulator') {
        t.deepEqual(health && [health.host, health.port], ['127.0.0.1', pgConfigFromEnv(env).port]);
        t.deepEqual(service.ports, []);
      } else {
        // The projector answers /health on METRICS_PORT (processors/read-model/main.ts).
        t.true(readFileSync(join(ROOT, 'processors/read-model/main.ts'), 'utf8').includes("req.url !== '/health'"), 'read-model main serves /health');
        t.deepEqual(health && [health.host, health.port, health.path], ['127.0.0.1', numberFromEnv(env, 'METRICS_PORT', 0), '/health'], service.name);
      }
    }
  });

  check(`${file}: every service has a health check, and dependencies exist and wait for health`, (t) => {
    const model = models.get(broker)!;
    for (const service of model.services.values()) {
      t.truthy(service.healthcheck?.length, `${service.name} has no health check`);
      for (const [dep, condition] of Object.entries(service.dependsOn)) {
        t.true(model.services.has(dep), `${service.name} depends on ${dep}, which is no service`);
        t.is(condition, 'service_healthy', `${service.name} → ${dep}`);
      }
    }
  });

  check(`${file}: state directories are named volumes the file declares`, (t) => {
    const model = models.get(broker)!;
    for (const service of model.services.values()) {
      for (const v of service.volumes) {
        // Configuration from the repository may be bound read-only (Prometheus's scrape file and rules).
        if (v.type === 'bind' && v.readOnly) {
          t.true(v.source !== undefined && resolve(ROOT, v.source).startsWith(ROOT) && existsSync(resolve(ROOT, v.source)), `${service.name}: ${v.source} is not in the repository`);
          continue;
        }
        t.is(v.type, 'volume', `${service.name}: ${v.target} is a bind mount`);
        t.true(v.source !== undefined && model.volumes.has(v.source), `${service.name}: ${v.target} is not a declared named volume`);
      }
      const stateDir = service.environment.STATE_DIR;
      if (stateDir) t.true(service.volumes.some((v) => v.target === stateDir), `${service.name}: STATE_DIR ${stateDir} is on no volume`);
    }
  });

  check(`${file}: the read model reads the stock processor's changelog (STOCK_APP_ID is its APP_ID) after it made it`, (t) => {
    const ours = oursIn(models.get(broker)!);
    const stock = ours.find((o) => o.entry === 'processors/stock/main.ts')!.service;
    const readModel = ours.find((o) => o.kind === 'read-model')!.service;
    t.is(readModel.environment.STOCK_APP_ID ?? 'stock-processor', stock.environment.APP_ID ?? 'stock-processor');
    // The projector creates a missing changelog with its own partition count (projector.ts).
    t.is(readModel.dependsOn[stock.name], 'service_healthy');
  });
}

check('both files run our components alike: same services, commands and settings beside the wiring', (t) => {
  const [a, b] = BROKERS.map((broker) => new Map(oursIn(models.get(broker)!).map((o) => [o.service.name, {
    command: o.service.command,
    environment: Object.fromEntries(Object.entries(o.service.environment).filter(([k]) => !WIRING[broker].includes(k))),
    networkMode: o.service.networkMode,
    volumes: o.service.volumes.map((v) => `${v.source}:${v.target}`),
  }])));
  t.deepEqual(a, b);
});

test('env-reads: finds reads through imports, skips comments and type-only imports', (t) => {
  t.deepEqual([...envNamesIn(`
    const a = env.ALPHA ?? env?.BETA;
    const b = process.env.GAMMA + env['DELTA'];
    const c = numberFromEnv(env, 'EPSILON', 1);
    // env.IN_A_COMMENT
    /* env.IN_A_BLOCK */
    const url = 'http://x'; const d = env.ZETA;
  `)].sort(), ['ALPHA', 'BETA', 'DELTA', 'EPSILON', 'GAMMA', 'ZETA']);
  // On the repository itself: the gateway's required secret is found through main.ts → config.ts,
  // and a variable only the payment processor reads is not among the order processor's.
  t.true(envReadsOf(ROOT, 'gateway/main.ts').names.get('JWT_SECRET')?.includes('gateway/config.ts'));
  t.false(envReadsOf(ROOT, 'processors/order/main.ts').names.has('PG_URL'));
  t.throws(() => envReadsOf(ROOT, 'processors/no-such/main.ts'), { message: /not found/ });
});

/** Every process entry: gateway/main.ts, processors/<team>/main.ts, processors/<team>/<x>-main.ts. */
function processEntries(): string[] {
  const entries = existsSync(join(ROOT, 'gateway/main.ts')) ? ['gateway/main.ts'] : [];
  for (const team of readdirSync(join(ROOT, 'processors'), { withFileTypes: true })) {
    if (!team.isDirectory()) continue;
    for (const f of readdirSync(join(ROOT, 'processors', team.name))) {
      if (f === 'main.ts' || f.endsWith('-main.ts')) entries.push(`processors/${team.name}/${f}`);
    }
  }
  return entries;
}

/** The services built from our Dockerfile, with the entry their command runs and its kind. */
function oursIn(model: ComposeModel): Ours[] {
  return [...model.services.values()].filter((s) => s.build !== undefined).map((service) => {
    const entries = service.command.join(' ').match(/[\w./-]+\.ts\b/g) ?? [];
    if (entries.length !== 1) throw new Error(`${service.name}: expected one .ts entry in its command, found ${JSON.stringify(entries)}`);
    const entry = entries[0]!;
    return { service, entry, kind: kindOf(entry) };
  });
}

function kindOf(entry: string): Kind {
  if (entry === 'gateway/main.ts') return 'gateway';
  if (entry === 'processors/read-model/main.ts') return 'read-model';
  if (entry.endsWith('pg-simulator-main.ts')) return 'pg-simulator';
  if (!existsSync(join(ROOT, entry))) throw new Error(`${entry}, a service's entry, does not exist`);
  // A team processor is what runs through the common runner (and so reads its variables).
  if (readFileSync(join(ROOT, entry), 'utf8').includes('runProcessorMain(')) return 'processor';
  throw new Error(`${entry}: an entry of unknown kind; teach this test what it needs`);
}

function healthUrl(service: ComposeService): { host: string; port: number; path: string } | undefined {
  const m = (service.healthcheck ?? []).join(' ').match(/https?:\/\/([\w.-]+):(\d+)(\/[\w/.-]*)/);
  return m ? { host: m[1]!, port: Number(m[2]), path: m[3]! } : undefined;
}
