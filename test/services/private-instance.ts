/**
 * A private instance of a harness service (`scripts/services` with its own run directory and
 * ports), for tests that stop and restart a server: the shared instance on the default ports
 * keeps serving every other suite.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const SERVICES = new URL('../../scripts/services', import.meta.url).pathname;

export interface PrivateInstance {
  /** The settings `scripts/services env` prints for this instance (KAFKA_BROKERS, …). */
  readonly env: Record<string, string>;
  up(): Promise<void>;
  down(): Promise<void>;
  /** Stops the instance and deletes its data. */
  dispose(): Promise<void>;
}

/** `ports` are the harness's variables, e.g. `{ REGISTRY_PORT: '18081' }`. */
export async function privateInstance(service: string, ports: Record<string, string>): Promise<PrivateInstance> {
  const dir = await mkdtemp(join(tmpdir(), `orderstream-${service}-`));
  const env = { ...process.env, ...ports, ORDERSTREAM_SERVICES_DIR: dir };
  const services = (cmd: string) => run('bash', [SERVICES, cmd, service], { env, maxBuffer: 16 << 20, timeout: 300_000 });
  const { stdout } = await services('env');
  const settings = Object.fromEntries([...stdout.matchAll(/^export (\w+)=(.*)$/gm)].map((m) => [m[1]!, m[2]!]));
  return {
    env: settings,
    up: async () => { await services('up'); },
    down: async () => { await services('down'); },
    dispose: async () => {
      await services('down').catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
