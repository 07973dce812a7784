/**
 * The gateway's composition root: one Koa app (middleware, then one route module per resource),
 * the STOMP hub on the same HTTP server, the realtime relay feeding it, and the operations
 * endpoints. Everything it needs is passed in, so the embedded job, its own process and the
 * tests build it the same way.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import Koa from 'koa';
import Router from '@koa/router';
import { pino, type Logger } from 'pino';
import { collectDefaultMetrics, Gauge, Histogram, Registry as MetricsRegistry } from 'prom-client';
import { OpenAPIRegistry, OpenApiGeneratorV31 } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import type { Contracts } from '../processors/common/index.ts';
import type { Persistence } from '../persistence/types.ts';
import type { Registry } from '../schemas/index.ts';
import type { Transport } from '../transports/index.ts';
import { withTimeout } from '../transports/util.ts';
import { LoginLimiter } from './auth/limiter.ts';
import { authRoutes } from './auth/routes.ts';
import { Sessions } from './auth/sessions.ts';
import { TokenService } from './auth/tokens.ts';
import { chatRoutes } from './chat/routes.ts';
import { openCollections } from './collections.ts';
import type { GatewayConfig } from './config.ts';
import type { GatewayContext } from './context.ts';
import { unavailable } from './errors.ts';
import { EventPublisher } from './events.ts';
import { countingStatuses, monitoringOptionsFromEnv, monitoringRoutes } from './monitoring/index.ts';
import { accessLog, bearer, errors, httpMetrics, jsonBody, requestId } from './http/middleware.ts';
import { staticFiles } from './http/static.ts';
import { idempotency } from './orders/idempotency.ts';
import { RecentOrders } from './orders/recent.ts';
import { orderRoutes } from './orders/routes.ts';
import { productRoutes } from './products/routes.ts';
import { reportRoutes } from './reports/routes.ts';
import { reportStorageFromEnv, type ReportStorage } from '../processors/reports/storage.ts';
import { Hub } from './realtime/hub.ts';
import { RealtimeRelay } from './realtime/relay.ts';
import { mount, route, type RouteSpec } from './routing.ts';
import { userRoutes } from './users/routes.ts';

export interface GatewayDeps {
  readonly transport: Transport;
  readonly registry: Registry;
  readonly contracts: Contracts;
  readonly persistence: Persistence;
  readonly logger?: Logger;
  /** More Prometheus text for `/metrics`: the engine metrics of processors in this process. */
  readonly extraMetrics?: () => string;
  /** Where sellers' reports are read from; default from the environment (processors/reports/storage.ts). */
  readonly reports?: ReportStorage;
}

export interface Gateway {
  readonly url: string;
  readonly port: number;
  readonly server: Server;
  readonly openapi: () => unknown;
  close(): Promise<void>;
  /** Rejects when the realtime relay fails for good. */
  stopped(): Promise<void>;
}

const WEB = fileURLToPath(new URL('./web/', import.meta.url));
const STOMP_CLIENT = fileURLToPath(new URL('../node_modules/@stomp/stompjs/esm6/', import.meta.url));

export async function startGateway(deps: GatewayDeps, config: GatewayConfig): Promise<Gateway> {
  const logger = deps.logger ?? pino({ level: config.logLevel, base: { service: 'gateway', gatewayId: config.gatewayId } });
  const db = await openCollections(deps.persistence);
  const tokens = new TokenService(config.jwt);
  const events = new EventPublisher(deps.transport, deps.contracts, { timeoutMs: config.publishTimeoutMs, retryAfterSeconds: 5 });
  const g: GatewayContext = {
    db, events, tokens, sessions: new Sessions(tokens, db), limiter: new LoginLimiter(config.login), logger,
    readYourWritesMs: config.readYourWritesMs, recentOrders: new RecentOrders(), now: Date.now,
  };

  const metrics = new MetricsRegistry();
  collectDefaultMetrics({ register: metrics });
  const requests = new Histogram({
    name: 'http_request_duration_seconds', help: 'HTTP requests by method, route template and status', labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5], registers: [metrics],
  });

  const app = new Koa({ proxy: false });
  const server = createServer(app.callback());
  const hub = new Hub(server, g, { maxBufferedBytes: config.ws.maxBufferedBytes, heartbeatMs: { outgoing: config.ws.heartbeatMs, incoming: config.ws.heartbeatMs } });
  new Gauge({ name: 'stomp_connections', help: 'Open STOMP connections', registers: [metrics], collect() { this.set(hub.stomp.connections); } });
  new Gauge({ name: 'stomp_subscriptions', help: 'Active STOMP subscriptions', registers: [metrics], collect() { this.set(hub.stomp.subscriptions); } });

  const openapi = new OpenAPIRegistry();
  openapi.registerComponent('securitySchemes', 'bearerAuth', { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' });
  const router = new Router();
  const routes: RouteSpec[] = [
    ...authRoutes(g), ...userRoutes(g), ...productRoutes(g), ...orderRoutes(g), ...chatRoutes(g), ...reportRoutes(deps.reports ?? reportStorageFromEnv(process.env)), ...operationRoutes(deps),
    ...monitoringRoutes(g, monitoringOptionsFromEnv(process.env, deps.contracts)),
  ];
  mount(router, openapi, routes, idempotency(db, { ttlMs: config.idempotencyTtlMs, staleAfterMs: 30_000 }, g.now));
  let document: unknown;
  const openapiDocument = () => (document ??= new OpenApiGeneratorV31(openapi.definitions).generateDocument({
    openapi: '3.1.0',
    info: { title: 'orderstream gateway', version: '1.0.0', description: 'Orders, products, users and chat of the orderstream shop. Real-time pushes: STOMP 1.2 over WebSocket at /ws.' },
    servers: [{ url: '/' }],
  }));
  router.get('/openapi.json', (ctx) => { ctx.body = openapiDocument(); });
  router.get('/metrics', async (ctx) => {
    ctx.type = metrics.contentType;
    ctx.body = `${await metrics.metrics()}\n${deps.extraMetrics?.() ?? ''}`;
  });

  app.use(requestId());
  app.use(accessLog(logger));
  app.use(errors());
  app.use(httpMetrics(requests));
  app.use(staticFiles({ '/web/': WEB, '/vendor/stompjs/': STOMP_CLIENT }, `${WEB}index.html`));
  app.use(bearer(tokens));
  app.use(jsonBody(config.bodyLimit));
  app.use(router.routes());
  app.use(router.allowedMethods({ throw: true }));

  const relay = new RealtimeRelay(deps.transport, deps.contracts, `${config.gatewayId}-realtime`, countingStatuses(hub, metrics), logger);
  await relay.start();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => { server.off('error', reject); resolve(); });
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
  logger.info({ url }, 'gateway listening');

  return {
    url, port, server, openapi: openapiDocument,
    async close() {
      await hub.close();
      await new Promise<void>((resolve) => { server.close(() => resolve()); server.closeAllConnections(); });
      await relay.close();
      await events.close();
    },
    stopped: () => relay.stopped(),
  };
}

/** `/health` (alive) and `/ready` (broker, registry and database answer). */
function operationRoutes(deps: GatewayDeps): RouteSpec[] {
  const Check = z.object({ status: z.enum(['ok', 'unavailable']), checks: z.record(z.string(), z.string()) }).openapi('Readiness');
  return [
    route({
      method: 'get', path: '/health', summary: 'The process is alive', tag: 'operations', access: 'public',
      responses: { 200: { description: 'Alive', schema: z.object({ status: z.literal('ok') }) } },
      handler: async () => ({ status: 200, body: { status: 'ok' } }),
    }),
    route({
      method: 'get', path: '/ready', summary: 'Broker, schema registry and database all answer', tag: 'operations', access: 'public',
      responses: { 200: { description: 'Ready', schema: Check } },
      handler: async () => {
        const checks = {
          broker: await probe(() => deps.transport.admin().describeTopic(deps.contracts.topic('order-placed'))),
          registry: await probe(() => deps.registry.client.getAllSubjects()),
          database: await probe(() => deps.persistence.ping()),
        };
        const failing = Object.entries(checks).filter(([, v]) => v !== 'ok').map(([k, v]) => `${k}: ${v}`);
        if (failing.length > 0) throw unavailable('NOT_READY', `not ready: ${failing.join('; ')}`, 5);
        return { status: 200, body: { status: 'ok', checks } };
      },
    }),
  ];
}

async function probe(check: () => Promise<unknown>, timeoutMs = 2000): Promise<string> {
  try {
    await withTimeout(check(), timeoutMs, () => new Error(`no answer within ${timeoutMs} ms`));
    return 'ok';
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}
