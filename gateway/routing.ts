/**
 * Routes are declared once, as data: method, path, who may call, the zod schemas of params,
 * query and body, the responses. `mount` registers each with @koa/router and with the OpenAPI
 * registry, so `/openapi.json` is generated from exactly what validates requests. A handler
 * returns its response instead of writing it, which is what lets Idempotency-Key replay it.
 */
import type Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import { extendZodWithOpenApi, OpenAPIRegistry, type RouteConfig } from '@asteasolutions/zod-to-openapi';
import { ApiError, badRequest, forbidden, unauthorized } from './errors.ts';
import { parseOrThrow } from './validation.ts';
import type { Principal } from './auth/tokens.ts';

extendZodWithOpenApi(z);

export type Access = 'public' | 'user' | 'BUYER' | 'SELLER';
type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';

export interface Reply {
  readonly status: number;
  readonly body?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
}

export interface Call<P, Q, B> {
  readonly params: P;
  readonly query: Q;
  readonly body: B;
  /** Present unless the route is public (then present only when a valid token was sent). */
  readonly principal: Principal | undefined;
  readonly requestId: string;
  readonly header: (name: string) => string | undefined;
  readonly ctx: Context;
}

export interface RouteSpec<P extends z.ZodType = z.ZodType, Q extends z.ZodType = z.ZodType, B extends z.ZodType = z.ZodType> {
  readonly method: Method;
  /** OpenAPI style: `/orders/{id}`. */
  readonly path: string;
  readonly summary: string;
  readonly tag: string;
  readonly access: Access;
  readonly params?: P;
  readonly query?: Q;
  readonly body?: B;
  /** Whether the route honours an `Idempotency-Key` header (documented as a parameter). */
  readonly idempotent?: boolean;
  readonly responses: Readonly<Record<number, { readonly description: string; readonly schema?: z.ZodType; readonly headers?: readonly string[] }>>;
  readonly handler: (call: Call<z.infer<P>, z.infer<Q>, z.infer<B>>) => Promise<Reply>;
}

export function route<P extends z.ZodType = z.ZodObject, Q extends z.ZodType = z.ZodObject, B extends z.ZodType = z.ZodUnknown>(spec: RouteSpec<P, Q, B>): RouteSpec {
  return spec as unknown as RouteSpec;
}

/** Wraps a handler, e.g. with Idempotency-Key handling. */
export type RouteWrapper = (spec: RouteSpec, next: RouteSpec['handler']) => RouteSpec['handler'];

export const ErrorBody = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    field: z.string().optional(),
    requestId: z.string(),
  }),
}).openapi('Error');

/** What an `idempotent` route documents as its header parameters, and validates like its query. */
const IdempotencyHeaders = z.object({
  'Idempotency-Key': z.string().min(1, { error: 'must not be empty' }).max(200, { error: 'must be at most 200 characters' })
    .regex(/^[\x21-\x7e]+$/, { error: 'must be visible ASCII characters' }).optional(),
});

const ERROR_RESPONSES: Record<number, string> = {
  400: 'The request is malformed; the message names the field',
  413: 'The body is larger than the limit',
  415: 'The body is not JSON',
  429: 'Too many requests; see Retry-After',
  503: 'A dependency (broker, database) is unavailable; see Retry-After',
};

export function mount(router: Router, registry: OpenAPIRegistry, routes: readonly RouteSpec[], wrap?: RouteWrapper): void {
  for (const spec of routes) {
    registry.registerPath(openApiPath(spec));
    const handler = wrap ? wrap(spec, spec.handler) : spec.handler;
    router[spec.method](spec.path.replace(/\{(\w+)\}/g, ':$1'), async (ctx) => {
      const principal = ctx.state.principal as Principal | undefined;
      authorize(spec.access, principal, ctx.state.authError as ApiError | undefined);
      if (spec.body !== undefined && ctx.request.length !== undefined && ctx.request.length > 0 && !ctx.is('application/json')) {
        throw new ApiError(415, 'UNSUPPORTED_MEDIA_TYPE', `body must be application/json, not ${ctx.get('content-type') || 'unspecified'}`);
      }
      // An empty key would otherwise read as no key, and the client's retries would not be deduplicated.
      if (spec.idempotent) parseOrThrow(IdempotencyHeaders, { 'Idempotency-Key': ctx.headers['idempotency-key'] }, 'headers');
      const call: Call<unknown, unknown, unknown> = {
        params: spec.params ? parseOrThrow(spec.params, ctx.params, 'params') : ctx.params,
        query: spec.query ? parseOrThrow(spec.query, ctx.query, 'query') : {},
        body: spec.body ? parseOrThrow(spec.body, bodyOf(ctx), 'body') : undefined,
        principal,
        requestId: ctx.state.requestId as string,
        header: (name) => ctx.get(name) || undefined,
        ctx,
      };
      const reply = await handler(call);
      ctx.status = reply.status;
      for (const [k, v] of Object.entries(reply.headers ?? {})) ctx.set(k, v);
      if (reply.body !== undefined) ctx.body = reply.body;
    });
  }
}

function bodyOf(ctx: Context): unknown {
  const raw = (ctx.request as { body?: unknown }).body;
  // The body parser yields {} for an empty body; a schema then names the first missing field.
  if (raw === undefined) throw badRequest('a JSON body is required', 'body');
  return raw;
}

function authorize(access: Access, principal: Principal | undefined, authError: ApiError | undefined): void {
  if (access === 'public') return;
  if (authError) throw authError;
  if (!principal) throw unauthorized('a bearer access token is required');
  if (access !== 'user' && principal.role !== access) throw forbidden(`only a ${access} may do this`);
}

function openApiPath(spec: RouteSpec): RouteConfig {
  const responses: RouteConfig['responses'] = {};
  for (const [status, r] of Object.entries(spec.responses)) {
    responses[status] = {
      description: r.description,
      ...(r.headers ? { headers: Object.fromEntries(r.headers.map((h) => [h, { schema: { type: 'string' } }])) } : {}),
      ...(r.schema ? { content: { 'application/json': { schema: r.schema } } } : {}),
    };
  }
  const errors: Record<number, string> = { ...ERROR_RESPONSES };
  if (spec.access !== 'public') {
    errors[401] = 'No valid access token';
    errors[403] = 'The token\'s role may not do this';
  }
  if (spec.path.includes('{')) errors[404] = 'Not found, or not visible to the caller';
  if (spec.idempotent) errors[422] = 'The Idempotency-Key was used with a different request';
  for (const [status, description] of Object.entries(errors)) {
    responses[status] ??= {
      description,
      ...(Number(status) === 429 || Number(status) === 503 ? { headers: { 'Retry-After': { schema: { type: 'string' } } } } : {}),
      content: { 'application/json': { schema: ErrorBody } },
    };
  }
  return {
    method: spec.method,
    path: spec.path,
    summary: spec.summary,
    tags: [spec.tag],
    ...(spec.access === 'public' ? {} : { security: [{ bearerAuth: [] }] }),
    request: {
      ...(spec.params ? { params: spec.params as z.ZodObject } : {}),
      ...(spec.query ? { query: spec.query as z.ZodObject } : {}),
      ...(spec.idempotent ? { headers: IdempotencyHeaders } : {}),
      // No body reads as {} (bodyOf), so a body whose fields are all optional may be left out.
      ...(spec.body ? { body: { required: !spec.body.safeParse({}).success, content: { 'application/json': { schema: spec.body } } } } : {}),
    },
    responses,
  };
}
