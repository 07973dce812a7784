/**
 * The payment gateway simulator as its own process: `node --import tsx processors/payment/pg-simulator-main.ts`.
 *
 *   PG_PORT          default 8090 (127.0.0.1 only)
 *   PG_LATENCY_MS    "min,max" ms before a request is decided (default 5,30)
 *   PG_DECLINE_RATE  share of orders declined, fixed per order by PG_SEED (default 0)
 *   PG_ERROR_RATE    probability of a 503 per request (default 0)
 *   PG_TIMEOUT_RATE  probability of never answering per request (default 0)
 *   PG_SEED          default 'pg'
 *
 * Prints "ready <port>" once listening; SIGTERM or SIGINT closes it.
 */
import { pgConfigFromEnv, startPgSimulator } from './pg-simulator.ts';

const sim = await startPgSimulator(pgConfigFromEnv(process.env));
process.stdout.write(`ready ${sim.port}\n`);
let closing = false;
const shutdown = () => {
  if (closing) return;
  closing = true;
  sim.close().then(() => process.exit(0), (e: unknown) => {
    process.stderr.write(`pg-simulator: close failed: ${String(e)}\n`);
    process.exit(1);
  });
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
