/**
 * The gateway's authorization matrix, table-driven: every route of the API × five callers (no
 * token, the buyer who owns the order, another buyer, the seller of the order's product, another
 * seller) → the exact status. The table is checked against `/openapi.json` at run time, so a new
 * route without a row fails here. Then the token defects an attacker would try, against one
 * protected route and STOMP CONNECT, and STOMP's SUBSCRIBE/SEND checks.
 *
 * Bodies are valid, so only authorization decides; a 404 for something the caller may not see
 * must look exactly like the 404 for an id that does not exist (DOMAIN.md: a buyer's details are
 * visible only to a seller that buyer ordered from, and to the buyer; an order only to its buyer
 * and its sellers; nothing confirms that a hidden id exists).
 */
import { randomUUID } from 'node:crypto';
import test, { type ExecutionContext } from 'ava';
import { WebSocket } from 'ws';
import { startSystem, type System } from '../../gateway/system.ts';
import { FrameParser, serializeFrame, type StompFrame } from '../../gateway/stomp/frame.ts';
import { Api, type Answer, type ErrorBody } from './api.ts';
import { claimsOf, signAccess, tampered, unsigned } from './tokens.ts';

// ---- the callers and the shop they act in -----------------------------------------------------

const CALLERS = ['none', 'buyer', 'otherBuyer', 'seller', 'otherSeller'] as const;
type Caller = typeof CALLERS[number];
/** One status per caller, in CALLERS order. */
type Expected = readonly [none: number, buyer: number, otherBuyer: number, seller: number, otherSeller: number];

interface Shop {
  readonly url: string;
  readonly as: Readonly<Record<Caller, Api>>;
  /** The seller's product the order is for (price PRICE, plenty of stock). */
  readonly productId: string;
  /** Another product of the seller, for the stock rows (a 202 there changes nothing others use). */
  readonly stockProductId: string;
  /** Placed by the buyer, one unit of productId, PENDING_PAYMENT. */
  readonly orderId: string;
  /** An account only the login/refresh/logout rows log into. */
  readonly login: { readonly email: string; readonly password: string };
}

const PRICE = 5900;
const PASSWORD = 'correct horse battery';
const env = {
  PORT: '0', PG_PORT: '0', ORDER_PAYMENT_DEADLINE_MS: '600000', DELIVERY_FAILURE_RATE: '0', PG_DECLINE_RATE: '0', PG_LATENCY_MS: '0,5',
  // Every sign-up logs in from 127.0.0.1: the per-address login limit is not what is under test.
  LOG_LEVEL: 'silent', LOGIN_MAX_PER_ADDRESS: '100000',
};

let system: System;
let shop: Shop;

test.before(async () => {
  system = await startSystem(env, { seed: false });
  const url = system.gateway.url;
  const [buyer, otherBuyer, seller, otherSeller, login] = await Promise.all([
    new Api(url).signUp('BUYER'), new Api(url).signUp('BUYER'), new Api(url).signUp('SELLER'), new Api(url).signUp('SELLER'), new Api(url).signUp('BUYER'),
  ]);
  const productId = await seller.product('Kettle', PRICE, 1000);
  const stockProductId = await seller.product('Teapot', 1200, 5);
  // The stock processor must know the level before an order asks for units, or it is out of stock.
  await seller.waitFor('the stock level to be projected', async () => ((await seller.call<{ available: number | null }>('GET', `/products/${productId}`)).body.available === 1000 ? true : undefined));
  const partial = { url, productId, as: { none: new Api(url), buyer, otherBuyer, seller, otherSeller } };
  const orderId = await placeOrder(partial);
  shop = { ...partial, stockProductId, orderId, login: { email: (await login.call<{ email: string }>('GET', '/users/me')).body.email, password: PASSWORD } };
});

test.after.always(async () => {
  await system?.close();
});

const ORDER = (productId: string) => ({ lines: [{ productId, quantity: 1 }], fulfilment: 'WAREHOUSE' });

/** A new order by the buyer for one unit of the seller's product, once it awaits payment. */
async function placeOrder(s: Pick<Shop, 'as' | 'productId'>): Promise<string> {
  const r = await s.as.buyer.call<{ orderId: string }>('POST', '/orders', ORDER(s.productId));
  if (r.status !== 202) throw new Error(`placing an order: ${r.status} ${JSON.stringify(r.body)}`);
  await s.as.buyer.statusReaches(r.body.orderId, 'PENDING_PAYMENT');
  return r.body.orderId;
}

/** A refresh token of a login of its own (each login is a new token family). */
async function freshRefreshToken(s: Shop): Promise<string> {
  const r = await new Api(s.url).call<{ refreshToken: string }>('POST', '/auth/login', s.login);
  if (r.status !== 200) throw new Error(`login: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.refreshToken;
}

// ---- the matrix -------------------------------------------------------------------------------

interface Request {
  readonly path: string;
  readonly body?: unknown;
  /** The id in the path that the caller may not be allowed to see: its 404 must equal that of an unknown id. */
  readonly hidden?: string;
}

interface Row {
  /** `METHOD /path` as in /openapi.json. */
  readonly route: string;
  /** When a route has more than one row: what this one is about. */
  readonly variant?: string;
  readonly expect: Expected;
  /** Called once per caller; a row whose 2xx would change what other rows rely on makes fresh objects here. */
  readonly request: (s: Shop, caller: Caller) => Promise<Request> | Request;
  /** More about a 2xx body: above all, that it shows nothing the caller may not see. */
  readonly check?: (t: ExecutionContext, body: unknown, caller: Caller, s: Shop) => void;
  /** A known authorization bug: the row runs as test.failing until the gateway is fixed. */
  readonly bug?: string;
}

const ALL = (status: number): Expected => [status, status, status, status, status];
const idOf = (s: Shop, caller: Caller) => s.as[caller].userId;
const listed = (body: unknown) => (body as { items: { orderId: string }[] }).items.map((o) => o.orderId);

const TABLE: readonly Row[] = [
  // auth: public, a token (valid or not) is ignored
  { route: 'POST /auth/signup', expect: ALL(201), request: () => ({ path: '/auth/signup', body: { email: `authz-${randomUUID()}@example.com`, password: PASSWORD, name: 'Someone', role: 'BUYER' } }) },
  { route: 'POST /auth/login', expect: ALL(200), request: (s) => ({ path: '/auth/login', body: s.login }) },
  { route: 'POST /auth/refresh', expect: ALL(200), request: async (s) => ({ path: '/auth/refresh', body: { refreshToken: await freshRefreshToken(s) } }) },
  { route: 'POST /auth/logout', expect: ALL(204), request: async (s) => ({ path: '/auth/logout', body: { refreshToken: await freshRefreshToken(s) } }) },

  // users: a buyer is visible to the buyer and to a seller the buyer ordered from, else 404
  {
    route: 'GET /auth/user/{userId}', variant: 'the buyer', expect: [401, 200, 404, 200, 404],
    request: (s) => ({ path: `/auth/user/${s.as.buyer.userId}`, hidden: s.as.buyer.userId! }),
    check: (t, body, _caller, s) => {
      t.deepEqual(Object.keys(body as object).sort(), ['email', 'id', 'role'], 'id, role and email, nothing more');
      t.is((body as { id: string }).id, s.as.buyer.userId!);
    },
  },
  {
    // Nothing makes a seller's details visible to anyone but the seller (access.ts canSeeUser).
    route: 'GET /auth/user/{userId}', variant: 'the seller', expect: [401, 404, 404, 200, 404],
    request: (s) => ({ path: `/auth/user/${s.as.seller.userId}`, hidden: s.as.seller.userId! }),
  },
  {
    route: 'GET /users/me', expect: [401, 200, 200, 200, 200], request: () => ({ path: '/users/me' }),
    check: (t, body, caller, s) => t.is((body as { id: string }).id, idOf(s, caller)!, 'the caller\'s own profile'),
  },
  {
    route: 'PATCH /users/me', expect: [401, 200, 200, 200, 200], request: () => ({ path: '/users/me', body: { phone: '+1 555 0100' } }),
    check: (t, body, caller, s) => t.is((body as { id: string }).id, idOf(s, caller)!, 'the caller\'s own profile'),
  },

  // products: the catalogue is public; writing is for sellers, stock for the product's own seller
  { route: 'POST /products', expect: [401, 403, 403, 201, 201], request: () => ({ path: '/products', body: { name: 'Mug', price: 800, stock: 3 } }) },
  { route: 'PUT /products/{id}/stock', expect: [401, 403, 403, 202, 403], request: (s) => ({ path: `/products/${s.stockProductId}/stock`, body: { available: 7 } }) },
  { route: 'GET /products', expect: ALL(200), request: () => ({ path: '/products' }) },
  { route: 'GET /products/{id}', expect: ALL(200), request: (s) => ({ path: `/products/${s.productId}` }) },

  // orders: placing and commanding is for buyers; an order is visible to its buyer and its sellers
  { route: 'POST /orders', expect: [401, 202, 202, 403, 403], request: (s) => ({ path: '/orders', body: ORDER(s.productId) }) },
  {
    route: 'POST /orders/{id}/payment', expect: [401, 202, 404, 403, 403],
    request: async (s) => { const id = await placeOrder(s); return { path: `/orders/${id}/payment`, body: { paymentKey: `pk-${randomUUID()}`, amount: PRICE }, hidden: id }; },
  },
  {
    route: 'POST /orders/{id}/cancel', expect: [401, 202, 404, 403, 403],
    request: async (s) => { const id = await placeOrder(s); return { path: `/orders/${id}/cancel`, body: { reason: 'changed my mind' }, hidden: id }; },
  },
  { route: 'GET /orders/{id}/status', expect: [401, 200, 404, 200, 404], request: (s) => ({ path: `/orders/${s.orderId}/status`, hidden: s.orderId }) },
  {
    route: 'GET /orders/{id}', expect: [401, 200, 404, 200, 404], request: (s) => ({ path: `/orders/${s.orderId}`, hidden: s.orderId }),
    check: (t, body, _caller, s) => t.is((body as { orderId: string }).orderId, s.orderId),
  },
  {
    route: 'GET /orders', expect: [401, 200, 200, 403, 403], request: () => ({ path: '/orders?limit=100' }),
    check: (t, body, caller, s) => t.is(listed(body).includes(s.orderId), caller === 'buyer', 'only the buyer\'s own orders'),
  },
  {
    route: 'GET /seller/orders', expect: [401, 403, 403, 200, 200], request: () => ({ path: '/seller/orders?limit=100' }),
    check: (t, body, caller, s) => t.is(listed(body).includes(s.orderId), caller === 'seller', 'only orders with the seller\'s products'),
  },

  // chat: the order's buyer and sellers only
  { route: 'GET /orders/{id}/chat', expect: [401, 200, 404, 200, 404], request: (s) => ({ path: `/orders/${s.orderId}/chat`, hidden: s.orderId }) },
  { route: 'POST /orders/{id}/chat', expect: [401, 202, 404, 202, 404], request: (s) => ({ path: `/orders/${s.orderId}/chat`, body: { text: 'Is it the blue one?' }, hidden: s.orderId }) },

  // operations
  { route: 'GET /seller/reports/{date}.csv', expect: [401, 403, 403, 404, 404], request: () => ({ path: '/seller/reports/2026-12-01.csv' }) },
  { route: 'GET /monitoring/panels', expect: [401, 403, 403, 200, 200], request: () => ({ path: '/monitoring/panels' }) },
  { route: 'GET /monitoring/query_range/{panel}', expect: [401, 403, 403, 200, 200], request: () => ({ path: '/monitoring/query_range/orders-by-status?minutes=5' }) },
  { route: 'GET /monitoring/topologies', expect: [401, 403, 403, 200, 200], request: () => ({ path: '/monitoring/topologies' }) },
  { route: 'GET /health', expect: ALL(200), request: () => ({ path: '/health' }) },
  { route: 'GET /ready', expect: ALL(200), request: () => ({ path: '/ready' }) },
];

const ERROR_CODES: Readonly<Record<number, string>> = { 401: 'UNAUTHORIZED', 403: 'FORBIDDEN', 404: 'NOT_FOUND' };

for (const row of TABLE) {
  const title = `${row.route}${row.variant ? ` (${row.variant})` : ''}: ${CALLERS.map((c, i) => `${c} ${row.expect[i]}`).join(', ')}`;
  const run = async (t: ExecutionContext) => {
    const [method, template] = row.route.split(' ') as [string, string];
    for (const [i, caller] of CALLERS.entries()) {
      const expected = row.expect[i]!;
      const req = await row.request(shop, caller);
      t.true(matches(template, req.path), `${req.path} is an instance of ${template}`);
      const r = await shop.as[caller].call(method, req.path, req.body);
      t.is(r.status, expected, `${caller}: ${JSON.stringify(r.body)}`);
      if (r.status >= 400 && r.status === expected) {
        const error = (r.body as ErrorBody).error;
        t.is<string | undefined, string | undefined>(error?.code, ERROR_CODES[expected], `${caller}: error code`);
        t.is<string | undefined, string | undefined>(error?.requestId, r.headers.get('x-request-id') ?? undefined, `${caller}: error names the request`);
      }
      if (expected === 404 && req.hidden !== undefined) {
        // Someone else's object and no object at all must be indistinguishable.
        const ghost = await shop.as[caller].call<ErrorBody>(method, req.path.replace(req.hidden, randomUUID()), req.body);
        t.is(ghost.status, 404, `${caller}: an unknown id`);
        t.deepEqual(withoutRequestId(r.body as ErrorBody), withoutRequestId(ghost.body), `${caller}: hidden looks like missing`);
      }
      if (r.status === expected && expected < 300) row.check?.(t, r.body, caller, shop);
    }
  };
  if (row.bug) test.failing(`${title} — known bug: ${row.bug}`, run);
  else test(title, run);
}

function matches(template: string, path: string): boolean {
  const pattern = template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{\w+\}/g, '[^/?]+');
  return new RegExp(`^${pattern}(\\?.*)?$`).test(path);
}

function withoutRequestId(body: ErrorBody): Omit<ErrorBody['error'], 'requestId'> {
  const { requestId: _requestId, ...rest } = body.error;
  return rest;
}

test('the table has a row for every route of /openapi.json and none for a route it does not document; 401 exactly where it says security', async (t) => {
  const doc = (await shop.as.none.call<{ paths: Record<string, Record<string, { security?: unknown[] }>> }>('GET', '/openapi.json')).body;
  const documented = new Map<string, { security?: unknown[] }>();
  for (const [path, operations] of Object.entries(doc.paths)) {
    for (const [method, operation] of Object.entries(operations)) {
      if (HTTP_METHODS.has(method)) documented.set(`${method.toUpperCase()} ${path}`, operation);
    }
  }
  const rows = new Set(TABLE.map((r) => r.route));
  t.true(documented.size > 0, 'routes are documented');
  t.deepEqual([...documented.keys()].filter((r) => !rows.has(r)), [], 'documented routes without a row: add them to TABLE');
  t.deepEqual([...rows].filter((r) => !documented.has(r)), [], 'rows for routes /openapi.json does not document');
  for (const row of TABLE) {
    const operation = documented.get(row.route);
    if (operation) t.is(operation.security !== undefined, row.expect[0] === 401, `${row.route}: documented as needing a token iff it refuses no token`);
  }
});

const HTTP_METHODS = new Set(['get', 'put', 'post', 'delete', 'patch', 'head', 'options', 'trace']);

// ---- token defects ----------------------------------------------------------------------------

const OTHER_SECRET = 'not-the-gateway-secret-but-long-enough-for-hs256';

/** Each an Authorization header value the gateway must refuse, and what its refusal names. */
const DEFECTS: readonly {
  readonly name: string;
  readonly header: (s: Shop) => string;
  readonly reason: RegExp;
  /** The hub takes the token from the header itself, so a malformed header fails as a malformed token there. */
  readonly stompReason?: RegExp;
}[] = [
  { name: 'expired access token', header: (s) => `Bearer ${signAccess(buyerClaims(s), { secret: system.jwtSecret, expiresInSeconds: -60 })}`, reason: /^token expired$/ },
  { name: 'signed with another secret', header: (s) => `Bearer ${signAccess(buyerClaims(s), { secret: OTHER_SECRET })}`, reason: /invalid signature/ },
  { name: 'alg none (unsigned)', header: (s) => `Bearer ${unsigned(buyerClaims(s))}`, reason: /^invalid token: jwt signature is required$/ },
  { name: 'payload tampered (role BUYER → SELLER, signature kept)', header: (s) => `Bearer ${tampered(s.as.buyer.token!, (c) => ({ ...c, role: 'SELLER' }))}`, reason: /invalid signature/ },
  { name: 'right secret, wrong audience', header: (s) => `Bearer ${signAccess(buyerClaims(s), { secret: system.jwtSecret, audience: 'some-other-api' })}`, reason: /audience invalid/ },
  { name: 'right secret, wrong issuer', header: (s) => `Bearer ${signAccess(buyerClaims(s), { secret: system.jwtSecret, issuer: 'someone-else' })}`, reason: /issuer invalid/ },
  { name: 'refresh token as access token', header: (s) => `Bearer ${s.as.buyer.refreshToken!}`, reason: /a refresh token where an access token is required/ },
  { name: 'not a JWT', header: () => 'Bearer not-a-jwt', reason: /^invalid token: jwt malformed$/ },
  { name: 'malformed header: Basic scheme', header: () => `Basic ${Buffer.from('buyer:password').toString('base64')}`, reason: /^Authorization must be "Bearer <access token>"$/, stompReason: /^invalid token: / },
  { name: 'malformed header: unknown scheme with a valid token', header: (s) => `Token ${s.as.buyer.token!}`, reason: /^Authorization must be "Bearer <access token>"$/, stompReason: /^invalid token: / },
  { name: 'malformed header: Bearer without a token', header: () => 'Bearer', reason: /^Authorization must be "Bearer <access token>"$/, stompReason: /^invalid token: / },
  { name: 'malformed header: a valid token and more', header: (s) => `Bearer ${s.as.buyer.token!} extra`, reason: /^Authorization must be "Bearer <access token>"$/, stompReason: /^invalid token: / },
];

function buyerClaims(s: Shop) {
  return { userId: s.as.buyer.userId!, role: 'BUYER' as const };
}

function assertUnauthorized(t: ExecutionContext, r: Answer<unknown>, what: string): string {
  t.is(r.status, 401, `${what}: ${JSON.stringify(r.body)}`);
  t.deepEqual(Object.keys(r.body as object), ['error'], what);
  const error = (r.body as ErrorBody).error;
  t.deepEqual(Object.keys(error).sort(), ['code', 'message', 'requestId'], what);
  t.is(error.code, 'UNAUTHORIZED', what);
  t.true(typeof error.message === 'string' && error.message.length > 0, what);
  t.is<string | undefined, string | undefined>(error.requestId, r.headers.get('x-request-id') ?? undefined, what);
  t.is(r.headers.get('www-authenticate'), 'Bearer', what);
  return error.message;
}

test('control: a token signed here like the gateway signs passes GET /users/me and STOMP CONNECT (so each defect below is what fails)', async (t) => {
  const token = signAccess(buyerClaims(shop), { secret: system.jwtSecret });
  const me = await shop.as.none.call<{ id: string }>('GET', '/users/me', undefined, { authorization: `Bearer ${token}` });
  const viaPasscode = await RawStomp.connect(shop.url, { passcode: token });
  t.teardown(() => viaPasscode.end());
  t.is((await viaPasscode.frame((f) => f.command === 'CONNECTED' || f.command === 'ERROR')).command, 'CONNECTED', 'as passcode');
  t.is(me.status, 200);
  t.is(me.body.id, shop.as.buyer.userId!);
  const stomp = await RawStomp.connect(shop.url, { Authorization: `Bearer ${token}` });
  t.teardown(() => stomp.end());
  t.is((await stomp.frame((f) => f.command === 'CONNECTED' || f.command === 'ERROR')).command, 'CONNECTED');
  t.is(claimsOf(tampered(shop.as.buyer.token!, (c) => ({ ...c, role: 'SELLER' }))).role, 'SELLER', 'the tampered token does claim SELLER');
});

for (const defect of DEFECTS) {
  test(`token defect: ${defect.name} → 401 on GET /users/me, ERROR and a closed socket on STOMP CONNECT`, async (t) => {
    const header = defect.header(shop);
    const message = assertUnauthorized(t, await shop.as.none.call('GET', '/users/me', undefined, { authorization: header }), 'GET /users/me');
    t.regex(message, defect.reason);
    await assertConnectRefused(t, { Authorization: header }, defect.stompReason ?? defect.reason);
    // The hub also takes the token as CONNECT's passcode (clients that cannot set Authorization).
    const token = /^Bearer (\S+)$/.exec(header)?.[1];
    if (token !== undefined) await assertConnectRefused(t, { login: 'ignored', passcode: token }, defect.reason);
  });
}

test('STOMP CONNECT without any token → ERROR and a closed socket', async (t) => {
  await assertConnectRefused(t, {}, /access token is required/);
});

async function assertConnectRefused(t: ExecutionContext, credentials: Readonly<Record<string, string>>, reason: RegExp): Promise<void> {
  const what = `STOMP CONNECT with ${Object.keys(credentials).join(', ') || 'no credentials'}`;
  const stomp = await RawStomp.connect(shop.url, credentials);
  t.teardown(() => stomp.end());
  const error = await stomp.frame((f) => f.command === 'CONNECTED' || f.command === 'ERROR');
  t.is(error.command, 'ERROR', what);
  t.regex(error.headers.message ?? '', reason, what);
  t.is(await stomp.closed, 1008, `${what}: the server closed the socket (policy violation)`);
  t.deepEqual(stomp.frames.map((f) => f.command), ['ERROR'], `${what}: nothing but the ERROR`);
}

test('a reused refresh token: first rotation 200, reuse 401, and the rotated token is revoked too', async (t) => {
  const first = await freshRefreshToken(shop);
  const rotated = await shop.as.none.call<{ refreshToken: string; accessToken: string }>('POST', '/auth/refresh', { refreshToken: first });
  t.is(rotated.status, 200);
  t.not(rotated.body.refreshToken, first);
  t.regex(assertUnauthorized(t, await shop.as.none.call('POST', '/auth/refresh', { refreshToken: first }), 'reuse'), /already used/);
  t.regex(assertUnauthorized(t, await shop.as.none.call('POST', '/auth/refresh', { refreshToken: rotated.body.refreshToken }), 'the rotated token after the reuse'), /revoked/);
});

test('fields that say who owns what cannot be set by the caller: 400 naming the field, and nothing changes', async (t) => {
  const attempts: readonly [Caller, string, string, unknown, string][] = [
    ['buyer', 'PATCH', '/users/me', { role: 'SELLER' }, 'role'],
    ['buyer', 'PATCH', '/users/me', { id: shop.as.otherBuyer.userId }, 'id'],
    ['seller', 'POST', '/products', { name: 'Mug', price: 800, stock: 3, sellerId: shop.as.otherSeller.userId }, 'sellerId'],
    ['buyer', 'POST', '/orders', { ...ORDER(shop.productId), customerId: shop.as.otherBuyer.userId }, 'customerId'],
    ['buyer', 'POST', `/orders/${shop.orderId}/chat`, { text: 'hi', fromUserId: shop.as.seller.userId }, 'fromUserId'],
  ];
  for (const [caller, method, path, body, field] of attempts) {
    const r = await shop.as[caller].call<ErrorBody>(method, path, body);
    t.is(r.status, 400, `${method} ${path} with ${field}`);
    t.is(r.body.error.field, field, `${method} ${path} with ${field}`);
  }
  t.is((await shop.as.buyer.call<{ role: string }>('GET', '/users/me')).body.role, 'BUYER');
  const me = await shop.as.buyer.call<{ id: string }>('GET', `/auth/user/${shop.as.buyer.userId}`);
  t.is(me.body.id, shop.as.buyer.userId!);
});

// ---- STOMP: who may subscribe and send --------------------------------------------------------

test('STOMP SUBSCRIBE /topic/order/{id} and /topic/chat/{id}: the order\'s buyer and seller only; strangers get ERROR and none of the pushes', async (t) => {
  const orderId = await placeOrder(shop);
  const topics = [`/topic/order/${orderId}`, `/topic/chat/${orderId}`];
  const allowed = new Map<Caller, RawStomp>();
  for (const caller of ['buyer', 'seller'] as const) {
    const stomp = await RawStomp.connected(t, shop.url, shop.as[caller].token!);
    for (const topic of topics) t.is((await stomp.subscribe(topic)).command, 'RECEIPT', `${caller} ${topic}`);
    allowed.set(caller, stomp);
  }
  const denied: { readonly who: string; readonly stomp: RawStomp }[] = [];
  const refuse = async (caller: Caller, destination: string) => {
    const stomp = await RawStomp.connected(t, shop.url, shop.as[caller].token!);
    const answer = await stomp.subscribe(destination);
    t.is(answer.command, 'ERROR', `${caller} ${destination}`);
    t.is(answer.headers.message, `not allowed: ${destination}`, `${caller} ${destination}`);
    t.is(await stomp.closed, 1008, `${caller} ${destination}: socket closed`);
    denied.push({ who: `${caller} ${destination}`, stomp });
  };
  for (const caller of ['otherBuyer', 'otherSeller'] as const) for (const topic of topics) await refuse(caller, topic);
  // Destinations that are not an order's: unknown kinds, no id, an order that does not exist.
  for (const destination of ['/topic/other', '/topic/order', `/topic/order/${randomUUID()}`, `/queue/order/${orderId}`, `/topic/order/${orderId}/extra`]) {
    await refuse('buyer', destination);
  }

  // A status change and a chat message after the refusals.
  t.is((await shop.as.buyer.call('POST', `/orders/${orderId}/payment`, { paymentKey: `pk-${randomUUID()}`, amount: PRICE })).status, 202);
  t.is((await shop.as.seller.call('POST', `/orders/${orderId}/chat`, { text: 'Thanks for your order' })).status, 202);
  for (const [caller, stomp] of allowed) {
    await shop.as.buyer.waitFor(`${caller}'s PAYMENT_COMPLETED push`, async () => (stomp.messages(topics[0]!).some((m) => (m as { status: string }).status === 'PAYMENT_COMPLETED') ? true : undefined));
    await shop.as.buyer.waitFor(`${caller}'s chat push`, async () => (stomp.messages(topics[1]!).length > 0 ? true : undefined));
  }
  for (const { who, stomp } of denied) t.deepEqual(stomp.frames.map((f) => f.command), ['CONNECTED', 'ERROR'], `${who}: no MESSAGE`);
});

test('STOMP SEND /app/chat/{id} by a stranger → ERROR, and nothing reaches the conversation', async (t) => {
  const orderId = await placeOrder(shop);
  const seller = await RawStomp.connected(t, shop.url, shop.as.seller.token!);
  t.is((await seller.subscribe(`/topic/chat/${orderId}`)).command, 'RECEIPT');
  for (const caller of ['otherBuyer', 'otherSeller'] as const) {
    const stomp = await RawStomp.connected(t, shop.url, shop.as[caller].token!);
    const answer = await stomp.sendJson(`/app/chat/${orderId}`, { text: `hello from ${caller}` });
    t.is(answer.command, 'ERROR', caller);
    t.is(answer.headers.message, 'order not found', `${caller}: as if there were no such order`);
    t.is(await stomp.closed, 1008, `${caller}: socket closed`);
  }
  const other = await RawStomp.connected(t, shop.url, shop.as.buyer.token!);
  t.is((await other.sendJson('/app/other', { text: 'x' })).command, 'ERROR', 'SEND to an unknown destination');
  const buyer = await RawStomp.connected(t, shop.url, shop.as.buyer.token!);
  t.is((await buyer.sendJson(`/app/chat/${orderId}`, { text: 'from the buyer' })).command, 'RECEIPT', 'the buyer may send');

  // chat-topic is keyed by order: a stranger's message, had it been published, would come first.
  await shop.as.buyer.waitFor('the buyer\'s message at the seller', async () => (seller.messages(`/topic/chat/${orderId}`).length > 0 ? true : undefined));
  t.deepEqual(seller.messages(`/topic/chat/${orderId}`).map((m) => (m as { text: string }).text), ['from the buyer']);
  const history = await shop.as.buyer.waitFor('the history', async () => {
    const r = await shop.as.buyer.call<{ items: { text: string }[] }>('GET', `/orders/${orderId}/chat`);
    return r.body.items.length > 0 ? r.body.items : undefined;
  });
  t.deepEqual(history.map((m) => m.text), ['from the buyer']);
});

/**
 * A raw STOMP 1.2 client on the gateway's own codec: every frame the server sends is kept (a
 * library client would hide an unexpected MESSAGE after an ERROR), and the socket's close is
 * observable, which is what "ERROR, then closed" needs.
 */
class RawStomp {
  readonly frames: StompFrame[] = [];
  /** The close code, once the socket closed. */
  readonly closed: Promise<number>;
  readonly #ws: WebSocket;
  readonly #parser = new FrameParser();
  readonly #waiters = new Set<() => void>();
  #isClosed = false;
  #error: Error | undefined;
  #receipts = 0;

  private constructor(ws: WebSocket) {
    this.#ws = ws;
    // A socket error is followed by 'close'; kept to explain a wait that the close ends.
    ws.on('error', (e) => { this.#error = e; });
    ws.on('message', (data: Buffer) => {
      this.frames.push(...this.#parser.push(data));
      for (const w of [...this.#waiters]) w();
    });
    this.closed = new Promise((resolve) => ws.on('close', (code) => {
      this.#isClosed = true;
      resolve(code);
      for (const w of [...this.#waiters]) w();
    }));
  }

  /** Opens /ws and sends CONNECT with these credential headers (Authorization, passcode); does not wait for the answer. */
  static async connect(url: string, credentials: Readonly<Record<string, string>>): Promise<RawStomp> {
    const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/ws`, ['v12.stomp']);
    const stomp = new RawStomp(ws);
    await new Promise<void>((resolve, reject) => { ws.once('open', resolve); ws.once('close', () => reject(new Error(`/ws did not open${stomp.#error ? `: ${stomp.#error.message}` : ''}`))); });
    stomp.#send('CONNECT', { 'accept-version': '1.2', host: 'localhost', 'heart-beat': '0,0', ...credentials });
    return stomp;
  }

  /** Connected with a valid token, closed when the test ends. */
  static async connected(t: ExecutionContext, url: string, token: string): Promise<RawStomp> {
    const stomp = await RawStomp.connect(url, { Authorization: `Bearer ${token}` });
    t.teardown(() => stomp.end());
    const answer = await stomp.frame((f) => f.command === 'CONNECTED' || f.command === 'ERROR');
    if (answer.command !== 'CONNECTED') throw new Error(`CONNECT refused: ${answer.headers.message}`);
    return stomp;
  }

  /** SUBSCRIBE with a receipt: the RECEIPT (subscribed) or the ERROR. */
  subscribe(destination: string): Promise<StompFrame> {
    const receipt = `r-${++this.#receipts}`;
    this.#send('SUBSCRIBE', { id: `sub-${this.#receipts}`, destination, receipt });
    return this.frame((f) => (f.command === 'RECEIPT' && f.headers['receipt-id'] === receipt) || f.command === 'ERROR');
  }

  /** SEND of a JSON body with a receipt: the RECEIPT (accepted) or the ERROR. */
  sendJson(destination: string, body: unknown): Promise<StompFrame> {
    const receipt = `r-${++this.#receipts}`;
    this.#send('SEND', { destination, 'content-type': 'application/json', receipt }, JSON.stringify(body));
    return this.frame((f) => (f.command === 'RECEIPT' && f.headers['receipt-id'] === receipt) || f.command === 'ERROR');
  }

  /** The JSON bodies of the MESSAGEs received for a destination. */
  messages(destination: string): unknown[] {
    return this.frames.filter((f) => f.command === 'MESSAGE' && f.headers.destination === destination).map((f) => JSON.parse(f.body.toString('utf8')) as unknown);
  }

  /** The first frame (received so far or later) that matches; rejects if the socket closes without one. */
  frame(match: (f: StompFrame) => boolean, timeoutMs = 30_000): Promise<StompFrame> {
    return new Promise((resolve, reject) => {
      const received = () => this.frames.map((f) => f.command).join(', ') || 'none';
      // A bound on waiting, so that a frame that never comes fails with what did come instead of hanging.
      const timer = setTimeout(() => { this.#waiters.delete(check); reject(new Error(`no matching frame; received: ${received()}`)); }, timeoutMs);
      const check = () => {
        const found = this.frames.find(match);
        if (found) resolve(found);
        else if (this.#isClosed) reject(new Error(`socket closed${this.#error ? ` (${this.#error.message})` : ''}; received: ${received()}`));
        else return;
        clearTimeout(timer);
        this.#waiters.delete(check);
      };
      this.#waiters.add(check);
      check();
    });
  }

  async end(): Promise<void> {
    if (!this.#isClosed) this.#ws.close(1000);
    await this.closed;
  }

  #send(command: string, headers: Record<string, string>, body?: string): void {
    this.#ws.send(serializeFrame({ command, headers, ...(body === undefined ? {} : { body }) }));
  }
}
