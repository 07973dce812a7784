/**
 * `npm start`: the whole order system in one process on the embedded defaults (memory transport,
 * in-process registry, embedded database, PG simulator, the four processors, the read-model
 * projection and the gateway), demo users and products seeded. TRANSPORT=kafka|rabbit,
 * SCHEMA_REGISTRY_URL and MONGO_URL point it at real services. Ctrl-C stops it cleanly.
 */
import { exitOnSignalOrFailure } from './processors/common/index.ts';
import { startSystem } from './gateway/system.ts';
import { DEMO_BUYER, DEMO_SELLER } from './gateway/seed.ts';

// Request logs would bury the URL and logins below; LOG_LEVEL=info brings them back.
const system = await startSystem({ LOG_LEVEL: 'warn', ...process.env });
exitOnSignalOrFailure('orderstream', () => system.close(), system.stopped());
const out = process.stdout;
if (system.generatedSecret) process.stderr.write('WARNING: JWT_SECRET is not set; a random secret was generated for this run (tokens die with the process). Set JWT_SECRET anywhere but a demo.\n');
out.write(`\norderstream is running: open ${system.gateway.url}/\n`);
out.write(`  demo seller: ${DEMO_SELLER.email} / ${DEMO_SELLER.password}\n`);
out.write(`  demo buyer:  ${DEMO_BUYER.email} / ${DEMO_BUYER.password}\n`);
out.write(`  API: ${system.gateway.url}/openapi.json   STOMP: ws://${system.gateway.url.replace(/^http:\/\//, '')}/ws   metrics: ${system.gateway.url}/metrics\n`);
