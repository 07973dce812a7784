/**
 * All four team processors in one process on one transport: the embedded main job (memory
 * transport, in-process registry) and anything else that wants the whole saga at hand. Without a
 * PG_URL a payment-gateway simulator is started alongside, so the job needs nothing outside.
 */
import type { Transport } from '../transports/index.ts';
import { startProcessor, type Contracts, type Env, type ProcessorSpec, type RunningProcessor } from './common/index.ts';
import { deliverySpec } from './delivery/index.ts';
import { orderSpec } from './order/index.ts';
import { paymentSpec, pgConfigFromEnv, startPgSimulator, type PgSimulator } from './payment/index.ts';
import { stockSpec } from './stock/index.ts';

export const TEAM_SPECS: readonly ProcessorSpec[] = [stockSpec, orderSpec, paymentSpec, deliverySpec];

export interface EmbeddedProcessors {
  readonly processors: readonly RunningProcessor[];
  /** The simulator started here, when PG_URL was not given. */
  readonly pg: PgSimulator | undefined;
  close(): Promise<void>;
  /** Rejects when any processor fails for good. */
  stopped(): Promise<void>;
}

export interface EmbeddedOptions {
  /**
   * Prepended to every team's application id (`<prefix><team>-processor`), so that runs sharing a
   * broker keep their groups and internal topics apart and a sweep by prefix finds them.
   */
  readonly appIdPrefix?: string;
}

export async function startEmbeddedProcessors(
  transport: Transport, contracts: Contracts, env: Env, logger?: (line: string) => void, options: EmbeddedOptions = {},
): Promise<EmbeddedProcessors> {
  const pg = env.PG_URL ? undefined : await startPgSimulator(pgConfigFromEnv(env));
  const processEnv: Env = { ...env, ...(pg ? { PG_URL: pg.url } : {}) };
  const processors: RunningProcessor[] = [];
  const close = async () => {
    for (const p of [...processors].reverse()) await p.close();
    await pg?.close();
  };
  try {
    for (const spec of TEAM_SPECS) {
      // Each team keeps its own application id (group, internal topics); APP_ID is per process.
      processors.push(await startProcessor(spec, { transport, contracts, env: { ...processEnv, APP_ID: `${options.appIdPrefix ?? ''}${spec.name}-processor` }, ...(logger ? { logger } : {}) }));
    }
  } catch (e) {
    await close();
    throw e;
  }
  return { processors, pg, close, stopped: () => Promise.race(processors.map((p) => p.stopped())) };
}
