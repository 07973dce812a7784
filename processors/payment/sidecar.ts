/**
 * The payment processor's sidecar from its context: the gateway client and the charger, configured
 * from the environment.
 *
 *   PG_URL                   the payment gateway, default http://127.0.0.1:8090
 *   PG_TIMEOUT_MS            per attempt, default 2000
 *   PG_RETRIES               attempts after the first, default 2
 *   PG_BREAKER_THRESHOLD     consecutive transport failures that open the circuit, default 5
 *   PG_BREAKER_COOLDOWN_MS   how long it stays open before a probe, default 5000
 *   PAYMENT_CONCURRENCY      gateway calls in flight at once, default 32
 *   PG_RECONCILE             1 (default): look a timed-out call up by its idempotency key before
 *                            it counts as failed; 0 only to show the gap it closes (tests)
 */
import { numberFromEnv, type Sidecar, type SidecarContext } from '../common/index.ts';
import { startCharger } from './charger.ts';
import { PgClient } from './pg-client.ts';
import { DEFAULT_PENDING_RESEND_MS, PG_REQUESTS, PG_RESULTS, internalTopic } from './topology.ts';

export async function paymentSidecar(context: SidecarContext): Promise<Sidecar> {
  const { env, applicationId, contracts } = context;
  const concurrency = numberFromEnv(env, 'PAYMENT_CONCURRENCY', 32);
  if (!(concurrency >= 1)) throw new RangeError(`PAYMENT_CONCURRENCY must be at least 1, not ${concurrency}`);
  const client = new PgClient({
    baseUrl: env.PG_URL || 'http://127.0.0.1:8090',
    timeoutMs: numberFromEnv(env, 'PG_TIMEOUT_MS', 2000),
    retries: numberFromEnv(env, 'PG_RETRIES', 2),
    reconcile: numberFromEnv(env, 'PG_RECONCILE', 1) !== 0,
    breaker: {
      failureThreshold: numberFromEnv(env, 'PG_BREAKER_THRESHOLD', 5),
      cooldownMs: numberFromEnv(env, 'PG_BREAKER_COOLDOWN_MS', 5000),
    },
  });
  return startCharger({
    transport: context.transport,
    client,
    requestsTopic: internalTopic(applicationId, PG_REQUESTS),
    resultsTopic: internalTopic(applicationId, PG_RESULTS),
    groupId: `${applicationId}-charger`,
    concurrency,
    // An unknown outcome is left to the topology's re-send, when there is one (index.ts reads the same variable).
    leaveUnknown: numberFromEnv(env, 'PAYMENT_PENDING_RESEND_MS', DEFAULT_PENDING_RESEND_MS) > 0,
    requestSerde: contracts.record('PaymentRequestMessage'),
    resultSerde: contracts.record('PaymentOutcome'),
    logger: context.logger,
  });
}
