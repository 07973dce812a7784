/**
 * The dashboard's data: the whitelisted Prometheus queries (panels.ts) proxied to
 * PROMETHEUS_URL's HTTP API, and each team processor's topology as `describe()` gives it.
 * Sellers and operators only; an operator is an account whose email is in OPERATOR_EMAILS
 * (comma-separated, any role), so no new role reaches the tokens, the Avro User or the read model.
 */
import { z } from 'zod';
import type { Contracts } from '../../processors/common/index.ts';
import { TEAM_SPECS } from '../../processors/embedded.ts';
import type { TopologyDescription } from '../../processors/engine/describe.ts';
import type { GatewayContext } from '../context.ts';
import { ApiError, badRequest, forbidden, unavailable } from '../errors.ts';
import { route, type RouteSpec } from '../routing.ts';
import type { Principal } from '../auth/tokens.ts';
import { panel, PANELS, RATE_QUERIES } from './panels.ts';

export interface MonitoringOptions {
  /** Prometheus's base URL; without it the query routes answer 503. */
  readonly prometheusUrl: string | undefined;
  /** Emails of the operator accounts (lower case). */
  readonly operators: ReadonlySet<string>;
  readonly contracts: Contracts;
  readonly timeoutMs?: number;
}

export function monitoringOptionsFromEnv(env: Readonly<Record<string, string | undefined>>, contracts: Contracts): MonitoringOptions {
  const operators = new Set((env.OPERATOR_EMAILS ?? '').split(',').map((e) => e.trim().toLowerCase()).filter(Boolean));
  return { prometheusUrl: env.PROMETHEUS_URL || undefined, operators, contracts };
}

const RangeQuery = z.object({
  minutes: z.coerce.number().int().min(1).max(24 * 60).default(15),
  step: z.coerce.number().int().min(1).max(3600).optional(),
});

interface PromSeries { metric: Record<string, string>; values?: [number, string][]; value?: [number, string] }

export function monitoringRoutes(g: GatewayContext, o: MonitoringOptions): RouteSpec[] {
  const allowed = async (principal: Principal): Promise<void> => {
    if (principal.role === 'SELLER') return;
    const user = await g.db.users.get(principal.userId);
    if (user && o.operators.has(user.email.toLowerCase())) return;
    throw forbidden('the dashboard is for sellers and operators');
  };
  const prometheus = async (path: string, params: Record<string, string>): Promise<{ resultType: string; result: PromSeries[] }> => {
    if (!o.prometheusUrl) throw unavailable('NO_PROMETHEUS', 'PROMETHEUS_URL is not set', 30);
    const url = `${o.prometheusUrl.replace(/\/$/, '')}${path}?${new URLSearchParams(params)}`;
    let res: Response;
    try {
      res = await fetch(url, { signal: AbortSignal.timeout(o.timeoutMs ?? 5000) });
    } catch (e) {
      throw unavailable('PROMETHEUS_UNAVAILABLE', `Prometheus did not answer: ${e instanceof Error ? e.message : String(e)}`, 5, e);
    }
    const body = await res.json().catch(() => undefined) as { status?: string; data?: { resultType: string; result: PromSeries[] }; error?: string } | undefined;
    if (!res.ok || body?.status !== 'success' || !body.data) throw new ApiError(502, 'PROMETHEUS_ERROR', `Prometheus answered ${res.status}: ${body?.error ?? 'no data'}`);
    return body.data;
  };
  let topologies: { name: string; description: TopologyDescription; mermaid: string }[] | undefined;

  return [
    route({
      method: 'get', path: '/monitoring/panels', summary: 'The dashboard\'s charts', tag: 'monitoring', access: 'user',
      responses: { 200: { description: 'Panels', schema: z.array(z.object({ id: z.string(), title: z.string(), unit: z.string(), legend: z.string(), expr: z.string() })) } },
      handler: async ({ principal }) => {
        await allowed(principal!);
        return { status: 200, body: PANELS };
      },
    }),
    route({
      method: 'get', path: '/monitoring/query_range/{panel}', summary: 'One chart\'s series over the last minutes (Prometheus /api/v1/query_range)', tag: 'monitoring', access: 'user',
      params: z.object({ panel: z.string().max(60) }), query: RangeQuery,
      responses: { 200: { description: 'Prometheus\'s matrix', schema: z.object({ resultType: z.string(), result: z.array(z.unknown()) }) }, 502: { description: 'Prometheus refused the query' } },
      handler: async ({ principal, params, query }) => {
        await allowed(principal!);
        const p = panel(params.panel);
        if (!p) throw badRequest(`no panel ${params.panel}`, 'panel');
        const end = Date.now() / 1000;
        const step = query.step ?? Math.max(2, Math.round((query.minutes * 60) / 180));
        return { status: 200, body: await prometheus('/api/v1/query_range', { query: p.expr, start: String(end - query.minutes * 60), end: String(end), step: String(step) }) };
      },
    }),
    route({
      method: 'get', path: '/monitoring/topologies', summary: 'Each team processor\'s topology (describe()) with its live record rates', tag: 'monitoring', access: 'user',
      responses: { 200: { description: 'Topologies and rates', schema: z.object({ topologies: z.array(z.unknown()), rates: z.record(z.string(), z.array(z.unknown())) }) } },
      handler: async ({ principal }) => {
        await allowed(principal!);
        topologies ??= TEAM_SPECS.map((spec) => {
          const description = spec.topology(o.contracts, {}).describe();
          return { name: spec.name, description, mermaid: description.toMermaid({ direction: 'LR' }) };
        });
        // Rates are optional beside the drawing: without Prometheus the map is still drawn.
        const rates: Record<string, { metric: Record<string, string>; value: number }[]> = {};
        for (const [name, expr] of Object.entries(RATE_QUERIES)) {
          rates[name] = await prometheus('/api/v1/query', { query: expr })
            .then((d) => d.result.map((r) => ({ metric: r.metric, value: Number(r.value?.[1] ?? 0) })))
            .catch(() => []);
        }
        return { status: 200, body: { topologies, rates } };
      },
    }),
  ];
}
