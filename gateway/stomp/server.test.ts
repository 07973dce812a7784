import test, { type ExecutionContext } from 'ava';
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Client, type IFrame, type IMessage } from '@stomp/stompjs';
import { WebSocket, WebSocketServer } from 'ws';
import { deferred, withTimeout } from '../../transports/util.ts';
import { waitUntil } from '../../test/conformance/suite.ts';
import { FrameParser, serializeFrame, type StompFrame } from './frame.ts';
import { StompRejection, StompServer, type StompHooks, type StompServerOptions } from './index.ts';

// ---- fixtures ---------------------------------------------------------------------------------

interface Principal {
  readonly user: string;
}

interface Sent {
  readonly principal: Principal;
  readonly destination: string;
  readonly body: string;
  readonly headers: Record<string, string>;
}

interface Harness {
  readonly stomp: StompServer<Principal>;
  readonly http: Server;
  readonly url: string;
  readonly base: string;
  readonly sent: Sent[];
  readonly events: Array<[string, Record<string, unknown>]>;
}

/** Tokens "good-<user>" authenticate as <user>; /topic/private/<user> is only for <user>. */
const defaultHooks = (sent: Sent[]): StompHooks<Principal> => ({
  async authenticate(headers) {
    const match = /^Bearer good-(\w+)$/.exec(headers.Authorization ?? '');
    if (!match) throw new StompRejection('invalid token');
    return { user: match[1]! };
  },
  async authorizeSubscribe(principal, destination) {
    const owner = /^\/topic\/private\/(\w+)$/.exec(destination)?.[1];
    return owner === undefined || owner === principal.user;
  },
  async onSend(principal, destination, body, headers) {
    sent.push({ principal, destination, body, headers: { ...headers } });
  },
});

async function start(t: ExecutionContext, options: StompServerOptions = {}, hooks?: (sent: Sent[]) => Partial<StompHooks<Principal>>): Promise<Harness> {
  const http = createServer((_req, res) => res.end('plain http'));
  const sent: Sent[] = [];
  const events: Array<[string, Record<string, unknown>]> = [];
  const stomp = new StompServer<Principal>(http, { ...defaultHooks(sent), ...hooks?.(sent) }, {
    ...options,
    logger: (event, details) => events.push([event, details]),
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  t.teardown(async () => {
    await stomp.close();
    http.closeAllConnections();
    await new Promise((resolve) => http.close(resolve));
  });
  const { port } = http.address() as AddressInfo;
  return { stomp, http, sent, events, base: `ws://127.0.0.1:${port}`, url: `ws://127.0.0.1:${port}${options.path ?? '/ws'}` };
}

/** Polls a condition; the deadline only turns a hang into a failure, it asserts no timing. */
function waitFor(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  return waitUntil(cond, what, ms);
}

/** A promise that must settle soon: a hang becomes a failure naming what never happened. */
function within<T>(promise: Promise<T>, what: string, ms = 5000): Promise<T> {
  return withTimeout(promise, ms, () => new Error(`timed out waiting for ${what}`));
}

/** @stomp/stompjs as a browser page uses it, on `ws` (Node 20 has no global WebSocket). */
function stompClient(t: ExecutionContext, url: string, token: string) {
  const connected = deferred<IFrame>();
  const closed = deferred();
  const errors: IFrame[] = [];
  const client = new Client({
    webSocketFactory: () => new WebSocket(url, ['v12.stomp']),
    connectHeaders: { Authorization: `Bearer ${token}` },
    reconnectDelay: 0,
    heartbeatIncoming: 0,
    heartbeatOutgoing: 0,
    debug: () => {},
    onConnect: (frame) => connected.resolve(frame),
    onStompError: (frame) => errors.push(frame),
    onWebSocketClose: () => closed.resolve(),
  });
  client.activate();
  t.teardown(() => client.deactivate({ force: true }));
  return { client, connected: connected.promise, closed: closed.promise, errors };
}

function receipt(client: Client, id: string): Promise<IFrame> {
  return new Promise((resolve) => client.watchForReceipt(id, resolve));
}

/** A bare `ws` client speaking STOMP through the codec, for what stompjs hides (heart-beats, bad frames). */
class RawClient {
  readonly frames: StompFrame[] = [];
  heartbeats = 0;
  readonly closed: Promise<number>;
  readonly #parser = new FrameParser({ maxFrameBytes: 16 * 1024 * 1024 });
  #read = 0;

  private constructor(readonly ws: WebSocket) {
    this.closed = new Promise((resolve) => ws.on('close', (code) => resolve(code)));
    ws.on('message', (data: Buffer) => {
      if (data.toString() === '\n' || data.toString() === '\r\n') this.heartbeats++;
      else this.frames.push(...this.#parser.push(data));
    });
  }

  static async open(t: ExecutionContext, url: string, protocols: string[] = ['v12.stomp']): Promise<RawClient> {
    const ws = new WebSocket(url, protocols);
    t.teardown(() => ws.terminate());
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    return new RawClient(ws);
  }

  send(command: string, headers: Record<string, string> = {}, body?: string | Buffer): void {
    this.ws.send(serializeFrame({ command, headers, body }));
  }

  async connect(headers: Record<string, string> = {}): Promise<StompFrame> {
    this.send('CONNECT', { 'accept-version': '1.2', host: 'localhost', Authorization: 'Bearer good-raw', ...headers });
    return this.next('CONNECTED');
  }

  /** The next frame not yet taken; fails if it is not the expected command. */
  async next(command?: string): Promise<StompFrame> {
    await waitFor(() => this.frames.length > this.#read, `a ${command ?? ''} frame`);
    const frame = this.frames[this.#read++]!;
    if (command !== undefined && frame.command !== command) {
      throw new Error(`expected ${command}, got ${frame.command} ${JSON.stringify(frame.headers)} ${frame.body.toString()}`);
    }
    return frame;
  }

  get isClosed(): boolean {
    return this.ws.readyState === WebSocket.CLOSED;
  }
}

// ---- with @stomp/stompjs ------------------------------------------------------------------------

test('stompjs connects with v12.stomp, subscribes and receives a publish', async (t) => {
  const h = await start(t);
  const { client, connected } = stompClient(t, h.url, 'good-ada');
  const frame = await within(connected, 'connected');
  t.is(frame.headers.version, '1.2');
  t.is(frame.headers.server, 'orderstream-stomp/1.0');
  t.is(frame.headers['heart-beat'], '10000,10000');
  t.is(h.stomp.connections, 1);

  const messages: IMessage[] = [];
  const subscribed = receipt(client, 'sub-r');
  client.subscribe('/topic/order/o1', (m) => messages.push(m), { receipt: 'sub-r' });
  await within(subscribed, 'subscribed');
  t.is(h.stomp.subscriptions, 1);

  t.is(h.stomp.publish('/topic/order/o1', JSON.stringify({ orderId: 'o1', status: 'PAID' })), 1);
  t.is(h.stomp.publish('/topic/order/o1', 'plain words', { 'x-trace': 'a:b\nc' }), 1);
  t.is(h.stomp.publish('/topic/order/o2', '{}'), 0, 'another destination has no subscriber');
  await waitFor(() => messages.length === 2, 'two messages');
  const [json, text] = messages;
  t.deepEqual(JSON.parse(json!.body), { orderId: 'o1', status: 'PAID' });
  t.is(json!.headers['content-type'], 'application/json');
  t.is(json!.headers.destination, '/topic/order/o1');
  t.is(json!.headers.subscription, 'sub-0');
  t.truthy(json!.headers['message-id']);
  t.not(json!.headers['message-id'], text!.headers['message-id']);
  t.is(text!.body, 'plain words');
  t.is(text!.headers['content-type'], undefined);
  t.is(text!.headers['x-trace'], 'a:b\nc', 'escaped on the wire, decoded by stompjs');
});

test('stompjs SEND with a receipt reaches onSend, and the RECEIPT waits for onSend to resolve', async (t) => {
  const gate = deferred();
  let calls = 0;
  const h = await start(t, {}, (sent) => ({
    async onSend(principal, destination, body, headers) {
      calls++;
      await gate.promise;
      sent.push({ principal, destination, body, headers: { ...headers } });
    },
  }));
  const { client, connected } = stompClient(t, h.url, 'good-ada');
  await within(connected, 'connected');
  let receipted = false;
  const got = receipt(client, 'send-1').then((f) => {
    receipted = true;
    return f;
  });
  client.publish({ destination: '/app/chat/o1', body: '{"text":"hi: there"}', headers: { receipt: 'send-1', 'x-note': 'a:b' } });
  await waitFor(() => calls === 1, 'onSend called');
  await new Promise((r) => setTimeout(r, 50));
  t.false(receipted, 'no RECEIPT while onSend is pending');
  gate.resolve();
  t.is((await within(got, 'the RECEIPT')).headers['receipt-id'], 'send-1');
  t.is(h.sent.length, 1);
  const [s] = h.sent;
  t.deepEqual(s!.principal, { user: 'ada' });
  t.is(s!.destination, '/app/chat/o1');
  t.is(s!.body, '{"text":"hi: there"}');
  t.is(s!.headers['x-note'], 'a:b', 'header value unescaped');
  t.is(s!.headers.receipt, 'send-1');
});

test('an onSend that throws gives an ERROR with the receipt-id and closes the socket', async (t) => {
  const h = await start(t, {}, () => ({
    async onSend() {
      throw new StompRejection('chat is closed for this order');
    },
  }));
  const { client, connected, closed, errors } = stompClient(t, h.url, 'good-ada');
  await within(connected, 'connected');
  client.publish({ destination: '/app/chat/o1', body: 'hi', headers: { receipt: 'r-9' } });
  await within(closed, 'closed');
  t.is(errors.length, 1);
  t.is(errors[0]!.headers.message, 'chat is closed for this order');
  t.is(errors[0]!.headers['receipt-id'], 'r-9');
  t.is(h.stomp.connections, 0);
});

test('an onSend failing with a plain Error says only "internal server error" and logs the cause', async (t) => {
  const h = await start(t, {}, () => ({
    async onSend() {
      throw new Error('kafka down at 10.0.0.7');
    },
  }));
  const { client, connected, closed, errors } = stompClient(t, h.url, 'good-ada');
  await within(connected, 'connected');
  client.publish({ destination: '/app/chat/o1', body: 'hi' });
  await within(closed, 'closed');
  t.is(errors[0]!.headers.message, 'internal server error');
  t.false(errors[0]!.body.includes('10.0.0.7'));
  t.true(h.events.some(([e, d]) => e === 'hook-failed' && d.error === 'kafka down at 10.0.0.7'));
});

test('a rejected CONNECT (bad token) gets an ERROR frame and a closed socket', async (t) => {
  const h = await start(t);
  const { connected, closed, errors } = stompClient(t, h.url, 'forged');
  let didConnect = false;
  void connected.then(() => (didConnect = true));
  await within(closed, 'closed');
  t.false(didConnect);
  t.is(errors.length, 1);
  t.is(errors[0]!.headers.message, 'invalid token');
  t.is(h.stomp.connections, 0);
});

test('a denied SUBSCRIBE gets an ERROR and a closed socket, and later publishes do not reach it', async (t) => {
  const h = await start(t);
  const mallory = stompClient(t, h.url, 'good-mallory');
  const ada = stompClient(t, h.url, 'good-ada');
  await within(Promise.all([mallory.connected, ada.connected]), 'both connected');
  const adaMessages: IMessage[] = [];
  const adaSubscribed = receipt(ada.client, 'ok');
  ada.client.subscribe('/topic/private/ada', (m) => adaMessages.push(m), { receipt: 'ok' });
  await within(adaSubscribed, 'adaSubscribed');

  const malloryMessages: IMessage[] = [];
  mallory.client.subscribe('/topic/private/ada', (m) => malloryMessages.push(m));
  await within(mallory.closed, 'mallory closed');
  t.is(mallory.errors[0]?.headers.message, 'not allowed: /topic/private/ada');
  t.is(h.stomp.connections, 1);
  t.is(h.stomp.subscriptions, 1, 'only ada\'s subscription exists');

  t.is(h.stomp.publish('/topic/private/ada', '{"secret":true}'), 1);
  await waitFor(() => adaMessages.length === 1, 'ada\'s message');
  t.is(malloryMessages.length, 0);
});

test('UNSUBSCRIBE stops delivery; DISCONNECT with a receipt is acknowledged and the connection released', async (t) => {
  const h = await start(t);
  const { client, connected, closed } = stompClient(t, h.url, 'good-ada');
  await within(connected, 'connected');
  const messages: IMessage[] = [];
  const subscribed = receipt(client, 's');
  const sub = client.subscribe('/topic/a', (m) => messages.push(m), { receipt: 's' });
  await within(subscribed, 'subscribed');
  const unsubscribed = receipt(client, 'u');
  sub.unsubscribe({ receipt: 'u' });
  await within(unsubscribed, 'unsubscribed');
  t.is(h.stomp.subscriptions, 0);
  t.is(h.stomp.publish('/topic/a', 'x'), 0);
  await client.deactivate(); // stompjs sends DISCONNECT with a receipt and waits for it
  await within(closed, 'closed');
  t.is(h.stomp.connections, 0);
  t.true(h.events.some(([e, d]) => e === 'closed' && d.reason === 'DISCONNECT'), 'the server saw DISCONNECT, not just a dropped socket');
  t.is(messages.length, 0);
});

// ---- raw protocol -------------------------------------------------------------------------------

test('CONNECT and SUBSCRIBE in one WebSocket message: handled in order, the SUBSCRIBE waiting for authentication', async (t) => {
  const auth = deferred();
  const h = await start(t, {}, () => ({
    async authenticate() {
      await auth.promise;
      return { user: 'raw' };
    },
  }));
  const c = await RawClient.open(t, h.url);
  c.ws.send(Buffer.concat([
    serializeFrame({ command: 'STOMP', headers: { 'accept-version': '1.1,1.2', host: 'h' } }),
    Buffer.from('\n'),
    serializeFrame({ command: 'SUBSCRIBE', headers: { id: '1', destination: '/topic/x', receipt: 'r1' } }),
  ]));
  await new Promise((r) => setTimeout(r, 30));
  t.is(c.frames.length, 0);
  auth.resolve();
  t.is((await c.next('CONNECTED')).headers.version, '1.2');
  t.is((await c.next('RECEIPT')).headers['receipt-id'], 'r1');
  t.is(h.stomp.publish('/topic/x', '[1,2]'), 1);
  const message = await c.next('MESSAGE');
  t.deepEqual({ ...message.headers }, { subscription: '1', 'message-id': message.headers['message-id'], destination: '/topic/x', 'content-type': 'application/json', 'content-length': '5' });
  t.is(message.body.toString(), '[1,2]');
});

test('a flood of SENDs reaches onSend one at a time, in order, each with its RECEIPT, reading paused and resumed meanwhile', async (t) => {
  const gate = deferred();
  let running = 0;
  let maxRunning = 0;
  const h = await start(t, {}, (sent) => ({
    async onSend(principal, destination, body, headers) {
      running++;
      maxRunning = Math.max(maxRunning, running);
      if (sent.length === 0) await gate.promise;
      else await new Promise((r) => setImmediate(r));
      sent.push({ principal, destination, body, headers: { ...headers } });
      running--;
    },
  }));
  const c = await RawClient.open(t, h.url);
  await c.connect();
  const n = 300;
  // 2 KiB each: more than one socket read, so the server has to stop and resume reading.
  const pad = ' '.repeat(2048);
  for (let i = 0; i < n; i++) c.send('SEND', { destination: '/app/chat/o1', receipt: `r${i}` }, `m${i}${pad}`);
  await waitFor(() => running === 1, 'the first onSend');
  gate.resolve();
  await waitFor(() => c.frames.length === n + 1, 'CONNECTED and all receipts');
  t.deepEqual(h.sent.map((s) => s.body.trim()), Array.from({ length: n }, (_, i) => `m${i}`));
  t.deepEqual(c.frames.slice(1).map((f) => `${f.command} ${f.headers['receipt-id']}`), Array.from({ length: n }, (_, i) => `RECEIPT r${i}`));
  t.is(maxRunning, 1);
  t.false(c.isClosed);
});

test('v10/v11 subprotocol offers are accepted and answered with STOMP 1.2', async (t) => {
  const h = await start(t);
  for (const protocol of ['v11.stomp', 'v10.stomp']) {
    const c = await RawClient.open(t, h.url, [protocol]);
    t.is(c.ws.protocol, protocol);
    t.is((await c.connect({ 'accept-version': '1.0,1.1,1.2' })).headers.version, '1.2');
  }
  const preferred = await RawClient.open(t, h.url, ['v10.stomp', 'v12.stomp', 'v11.stomp']);
  t.is(preferred.ws.protocol, 'v12.stomp');
});

test('a client accepting only versions before 1.2 gets an ERROR naming the supported version', async (t) => {
  const h = await start(t);
  const c = await RawClient.open(t, h.url);
  c.send('CONNECT', { 'accept-version': '1.0,1.1', Authorization: 'Bearer good-x' });
  const error = await c.next('ERROR');
  t.is(error.headers.message, 'unsupported STOMP version(s) 1.0,1.1: this server speaks 1.2');
  t.is(error.headers.version, '1.2');
  await within(c.closed, 'c closed');
});

test('protocol errors get an ERROR frame naming the problem, then the socket is closed', async (t) => {
  const h = await start(t, { maxFrameBytes: 1024, maxSubscriptions: 2 });
  const cases: Array<{ name: string; connect: boolean; send: (c: RawClient) => void; message: string | RegExp }> = [
    { name: 'frame before CONNECT', connect: false, send: (c) => c.send('SUBSCRIBE', { id: '1', destination: '/topic/x' }), message: 'expected CONNECT or STOMP, got SUBSCRIBE' },
    { name: 'missing destination', connect: true, send: (c) => c.send('SUBSCRIBE', { id: '1' }), message: 'SUBSCRIBE frame is missing the required header destination' },
    { name: 'missing id', connect: true, send: (c) => c.send('SUBSCRIBE', { destination: '/topic/x' }), message: 'SUBSCRIBE frame is missing the required header id' },
    { name: 'SEND without destination', connect: true, send: (c) => c.send('SEND', {}, 'x'), message: 'SEND frame is missing the required header destination' },
    { name: 'unknown command', connect: true, send: (c) => c.send('FROB'), message: 'unknown command FROB' },
    { name: 'server command from a client', connect: true, send: (c) => c.send('MESSAGE'), message: 'unknown command MESSAGE' },
    { name: 'oversize frame', connect: true, send: (c) => c.send('SEND', { destination: '/app/x' }, 'x'.repeat(2000)), message: 'SEND frame exceeds the maximum frame size of 1024 bytes' },
    { name: 'bad escape', connect: true, send: (c) => c.ws.send('SEND\ndestination:/a\\x\n\n\0'), message: 'SEND frame: header "destination" contains the undefined escape \\x' },
    { name: 'second CONNECT', connect: true, send: (c) => c.send('CONNECT', { 'accept-version': '1.2' }), message: 'already connected' },
    { name: 'transaction', connect: true, send: (c) => c.send('BEGIN', { transaction: 't1' }), message: 'transactions are not supported' },
    { name: 'bad ack mode', connect: true, send: (c) => c.send('SUBSCRIBE', { id: '1', destination: '/d', ack: 'sometimes' }), message: /invalid ack mode "sometimes"/ },
    { name: 'bad heart-beat', connect: false, send: (c) => c.send('CONNECT', { 'accept-version': '1.2', 'heart-beat': 'often' }), message: /invalid heart-beat header "often"/ },
    {
      name: 'too many subscriptions', connect: true,
      send: (c) => ['1', '2', '3'].forEach((id) => c.send('SUBSCRIBE', { id, destination: `/topic/${id}` })),
      message: 'too many subscriptions: at most 2 per connection',
    },
    {
      name: 'duplicate subscription id', connect: true,
      send: (c) => ['1', '1'].forEach((id) => c.send('SUBSCRIBE', { id, destination: '/topic/d' })),
      message: 'subscription id "1" is already in use',
    },
  ];
  for (const { name, connect, send, message } of cases) {
    const c = await RawClient.open(t, h.url);
    if (connect) await c.connect();
    send(c);
    const error = await c.next('ERROR');
    if (typeof message === 'string') t.is(error.headers.message, message, name);
    else t.regex(error.headers.message ?? '', message, name);
    t.is(error.body.toString(), error.headers.message ?? '', `${name}: the body repeats the message`);
    await within(c.closed, 'c closed');
    await waitFor(() => h.stomp.connections === 0, `${name}: connection released`);
    t.is(h.stomp.subscriptions, 0, `${name}: no subscription left behind`);
  }
});

test('the ERROR for a bad frame carries its receipt-id', async (t) => {
  const h = await start(t);
  const c = await RawClient.open(t, h.url);
  await c.connect();
  c.send('SUBSCRIBE', { id: '1', receipt: 'r-77' });
  t.is((await c.next('ERROR')).headers['receipt-id'], 'r-77');
});

test('RECEIPT for any frame carrying receipt; client ack mode gets an ack header and ACK/NACK are no-ops', async (t) => {
  const h = await start(t);
  const c = await RawClient.open(t, h.url);
  await c.connect();
  c.send('SUBSCRIBE', { id: 'a', destination: '/topic/q', ack: 'client-individual', receipt: '1' });
  t.is((await c.next('RECEIPT')).headers['receipt-id'], '1');
  h.stomp.publish('/topic/q', 'm', { 'content-type': 'text/plain', subscription: 'forged', destination: '/elsewhere' });
  const message = await c.next('MESSAGE');
  t.is(message.headers.subscription, 'a', 'publish headers cannot override routing headers');
  t.is(message.headers.destination, '/topic/q');
  t.is(message.headers['content-type'], 'text/plain');
  t.truthy(message.headers.ack);
  c.send('ACK', { id: message.headers.ack!, receipt: '2' });
  t.is((await c.next('RECEIPT')).headers['receipt-id'], '2');
  c.send('NACK', { id: message.headers.ack!, receipt: '3' });
  t.is((await c.next('RECEIPT')).headers['receipt-id'], '3');
  c.send('UNSUBSCRIBE', { id: 'nope', receipt: '4' });
  t.is((await c.next('RECEIPT')).headers['receipt-id'], '4', 'an unknown id is a no-op');
  c.send('DISCONNECT', { receipt: '5' });
  t.is((await c.next('RECEIPT')).headers['receipt-id'], '5');
  await within(c.closed, 'c closed');
  t.is(h.stomp.connections, 0);
});

test('no CONNECT within connectTimeoutMs → ERROR and close', async (t) => {
  const h = await start(t, { connectTimeoutMs: 100 });
  const c = await RawClient.open(t, h.url);
  t.is(h.stomp.connections, 1);
  t.is((await c.next('ERROR')).headers.message, 'no CONNECT within 100 ms');
  await within(c.closed, 'c closed');
  t.is(h.stomp.connections, 0);
});

// ---- heart-beats -------------------------------------------------------------------------------

test('heart-beats: a client asking for them (0,100) gets EOLs, one asking for none (0,0) gets none', async (t) => {
  const h = await start(t, { heartbeatMs: { outgoing: 50, incoming: 50 } });
  const wants = await RawClient.open(t, h.url);
  const none = await RawClient.open(t, h.url);
  const connected = await wants.connect({ 'heart-beat': '0,100' });
  await none.connect({ 'heart-beat': '0,0' });
  t.is(connected.headers['heart-beat'], '50,50', 'CONNECTED states the server\'s own offer');
  await waitFor(() => wants.heartbeats >= 4, 'heart-beats');
  t.is(none.heartbeats, 0);
  t.false(wants.isClosed || none.isClosed, 'neither client sends beats (cx = 0), so neither is watched');
  t.is(h.stomp.connections, 2);
});

test('heart-beats: a client that goes silent past the incoming window is closed; one that beats stays', async (t) => {
  const h = await start(t, { heartbeatMs: { outgoing: 0, incoming: 50 } });
  const silent = await RawClient.open(t, h.url);
  const beating = await RawClient.open(t, h.url);
  await silent.connect({ 'heart-beat': '100,0' });
  await beating.connect({ 'heart-beat': '100,0' });
  const beats = setInterval(() => beating.ws.send('\n'), 40);
  t.teardown(() => clearInterval(beats));
  await within(silent.closed, 'silent closed');
  t.false(beating.isClosed);
  t.is(h.stomp.connections, 1);
  t.true(h.events.some(([e]) => e === 'heartbeat-timeout'));
  t.is(silent.heartbeats, 0, 'outgoing 0 means the server sends none');
});

// ---- resources ---------------------------------------------------------------------------------

test('a client that stops reading is terminated once bufferedAmount passes maxBufferedBytes', async (t) => {
  const maxBufferedBytes = 256 * 1024;
  const h = await start(t, { maxBufferedBytes });
  const c = await RawClient.open(t, h.url);
  await c.connect();
  c.send('SUBSCRIBE', { id: '1', destination: '/topic/flood', receipt: 'r' });
  await c.next('RECEIPT');
  (c.ws as unknown as { _socket: Socket })._socket.pause();

  const body = JSON.stringify({ pad: 'x'.repeat(64 * 1024) });
  let published = 0;
  let delivered = 1;
  // Bounded: kernel buffers on loopback hold a few MiB; 2,000 × 64 KiB is far past them.
  while (delivered > 0 && published < 2000) {
    delivered = h.stomp.publish('/topic/flood', body);
    published++;
    await new Promise((r) => setImmediate(r)); // let the socket write what the kernel takes
  }
  t.log(`terminated after ${published} messages`);
  t.is(delivered, 0);
  t.true(published * body.length > maxBufferedBytes);
  t.is(h.stomp.connections, 0);
  t.is(h.stomp.subscriptions, 0);
  const slow = h.events.find(([e]) => e === 'slow-consumer');
  t.truthy(slow);
  t.true((slow![1].bufferedAmount as number) > maxBufferedBytes);
  t.is(h.stomp.publish('/topic/flood', body), 0);
});

test('upgrades on other paths are left to other listeners; query strings on /ws are fine', async (t) => {
  const h = await start(t);
  const other = new WebSocketServer({ noServer: true });
  h.http.on('upgrade', (req, socket, head) => {
    if (req.url === '/other') other.handleUpgrade(req, socket, head, (ws) => ws.send('from other'));
  });
  t.teardown(() => {
    for (const ws of other.clients) ws.terminate();
    other.close();
  });
  const ws = new WebSocket(`${h.base}/other`);
  t.teardown(() => ws.terminate());
  const first = await new Promise<string>((resolve, reject) => ws.once('message', (d: Buffer) => resolve(d.toString())).once('error', reject));
  t.is(first, 'from other');
  t.is(h.stomp.connections, 0);

  const c = await RawClient.open(t, `${h.url}?token=abc`);
  await c.connect();
  t.is(h.stomp.connections, 1);
  t.is(ws.readyState, WebSocket.OPEN, 'the other path\'s socket is untouched');
});

test('close() closes every socket and stops handling upgrades', async (t) => {
  const h = await start(t);
  const listeners = h.http.listenerCount('upgrade');
  const a = stompClient(t, h.url, 'good-a');
  const b = await RawClient.open(t, h.url);
  await within(a.connected, 'a.connected');
  await b.connect();
  a.client.subscribe('/topic/x', () => {});
  await waitFor(() => h.stomp.subscriptions === 1, 'subscription');
  await h.stomp.close();
  await within(Promise.all([a.closed, b.closed]), 'both clients closed');
  t.is(h.stomp.connections, 0);
  t.is(h.stomp.subscriptions, 0);
  t.is(h.http.listenerCount('upgrade'), listeners - 1);
  await h.stomp.close(); // idempotent
});

test('invalid options are refused at construction', (t) => {
  const http = createServer();
  const hooks = defaultHooks([]);
  t.throws(() => new StompServer(http, hooks, { maxBufferedBytes: 0 }), { instanceOf: RangeError, message: /maxBufferedBytes/ });
  t.throws(() => new StompServer(http, hooks, { heartbeatMs: { outgoing: -1, incoming: 0 } }), { message: /heartbeatMs.outgoing/ });
  t.throws(() => new StompServer(http, hooks, { path: 'ws' }), { message: /path must start/ });
  t.is(http.listenerCount('upgrade'), 0);
});
