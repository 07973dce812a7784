/**
 * The payment gateway simulator as its own process: `node --import tsx processors/payment/pg-simulator-main.ts`.
 *
 *   PG_PORT          default 8090
 *   PG_HOST          default 127.0.0.1 (0.0.0.0 to be reachable from other hosts, e.g. containers)
 *   PG_LATENCY_MS    "min,max" ms before a request is decided (default 5,30)
 *   PG_DECLINE_RATE  share of orders declined, fixed per order by PG_SEED (default 0)
 *   PG_ERROR_RATE    probability of a 503 per request (default 0)
 *   PG_TIMEOUT_RATE  probability of never answering per request, nothing charged (default 0)
 *   PG_TIMEOUT_AFTER_CHARGE_RATE  probability of deciding (capturing) and then never answering (default 0)
 *   PG_SEED          default 'pg'
 *
 * Prints "ready <port>" once listening; SIGTERM or SIGINT closes it.
 */
import { exitOnSignalOrFailure } from '../common/lifecycle.ts';
import { pgConfigFromEnv, startPgSimulator } from './pg-simulator.ts';

const sim = await startPgSimulator(pgConfigFromEnv(process.env));
exitOnSignalOrFailure('pg-simulator', () => sim.close());
process.stdout.write(`ready ${sim.port}\n`);
