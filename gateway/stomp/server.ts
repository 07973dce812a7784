/**
 * A STOMP 1.2 server over WebSocket (`ws`), on a path of an existing http.Server.
 *
 * Generic: it routes MESSAGE frames to local subscriptions by exact destination and leaves
 * authentication, authorization and what a SEND means to the hooks. Every connection's frames
 * are handled one at a time in arrival order (a SUBSCRIBE after a CONNECT waits for the
 * CONNECT's authentication).
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { DEFAULT_MAX_FRAME_BYTES, FrameParser, HEARTBEAT, StompParseError, serializeFrame, type StompFrame } from './frame.ts';
import { negotiateHeartbeat, parseHeartbeat } from './heartbeat.ts';

/** Thrown by a hook to refuse a client: its message goes into the ERROR frame's `message` header. */
export class StompRejection extends Error {
  override readonly name = 'StompRejection';
}

export interface StompHooks<P> {
  /** CONNECT or STOMP frame: headers include login/passcode/Authorization as the client sent them. Throw StompRejection → ERROR frame, socket closed. */
  authenticate(headers: Readonly<Record<string, string>>, request: IncomingMessage): Promise<P>;
  /** SUBSCRIBE: resolve true to allow; false → ERROR frame ("not allowed: <destination>"), socket closed, nothing leaked. */
  authorizeSubscribe(principal: P, destination: string): Promise<boolean>;
  /** SEND: resolve once accepted (the gateway awaits a broker ack); then a RECEIPT if the client asked for one. Throw → ERROR (with receipt-id if asked), socket closed. */
  onSend(principal: P, destination: string, body: string, headers: Readonly<Record<string, string>>): Promise<void>;
}

export interface StompServerOptions {
  /** Default '/ws'. Upgrades on other paths are left to other listeners. */
  readonly path?: string;
  /** What the server offers; default 10000,10000; negotiated per spec (max of offer and ask; 0 disables). */
  readonly heartbeatMs?: { readonly outgoing: number; readonly incoming: number };
  /** Default 1 MiB: a client whose ws.bufferedAmount passes it is terminated (a client that stops reading must not grow memory). */
  readonly maxBufferedBytes?: number;
  /** Default 64 KiB; a larger frame gets an ERROR. A WebSocket message over 4× this is refused by ws itself (close 1009). */
  readonly maxFrameBytes?: number;
  /** Per connection, default 100. */
  readonly maxSubscriptions?: number;
  /** No CONNECTED (CONNECT received and authenticated) within this → ERROR and close; default 10 s. */
  readonly connectTimeoutMs?: number;
  /** The CONNECTED frame's `server` header; default 'orderstream-stomp/1.0'. */
  readonly serverName?: string;
  readonly logger?: (event: string, details: Record<string, unknown>) => void;
}

export class StompServer<P> {
  readonly #server: Server;
  readonly #hooks: StompHooks<P>;
  readonly #options: Required<Omit<StompServerOptions, 'logger'>>;
  readonly #log: (event: string, details: Record<string, unknown>) => void;
  readonly #wss: WebSocketServer;
  readonly #connections = new Set<Connection<P>>();
  readonly #byDestination = new Map<string, Set<Subscription<P>>>();
  #subscriptionCount = 0;
  #connectionSeq = 0;
  #messageSeq = 0;
  #closing: Promise<void> | undefined;

  constructor(server: Server, hooks: StompHooks<P>, options: StompServerOptions = {}) {
    this.#server = server;
    this.#hooks = hooks;
    this.#options = resolveOptions(options);
    this.#log = options.logger ?? (() => {});
    this.#wss = new WebSocketServer({
      noServer: true,
      perMessageDeflate: false,
      // One WebSocket message may carry several frames; the parser bounds each frame, this the message.
      maxPayload: this.#options.maxFrameBytes * 4,
      handleProtocols: (offered) => SUBPROTOCOLS.find((p) => offered.has(p)) ?? false,
    });
    server.on('upgrade', this.#onUpgrade);
  }

  /** MESSAGE to every local subscription of exactly this destination; returns how many got it. */
  publish(destination: string, body: string, headers: Readonly<Record<string, string>> = {}): number {
    const subscriptions = this.#byDestination.get(destination);
    if (!subscriptions || subscriptions.size === 0) return 0;
    const bytes = Buffer.from(body, 'utf8');
    const contentType = headers['content-type'] ?? (isJson(body) ? 'application/json' : undefined);
    const extra = Object.entries(headers).filter(([name]) => !RESERVED_MESSAGE_HEADERS.has(name));
    const messageId = String(++this.#messageSeq);
    let delivered = 0;
    // A copy: a slow consumer terminated mid-loop leaves the set.
    for (const s of [...subscriptions]) {
      const frame = serializeFrame({
        command: 'MESSAGE',
        headers: {
          subscription: s.id,
          'message-id': messageId,
          destination,
          ...(s.ack === 'auto' ? {} : { ack: messageId }),
          ...(contentType === undefined ? {} : { 'content-type': contentType }),
          ...Object.fromEntries(extra),
        },
        body: bytes,
      });
      if (this.#send(s.connection, frame)) delivered++;
    }
    return delivered;
  }

  /** Open WebSockets on the path, CONNECTed or not yet. */
  get connections(): number {
    return this.#connections.size;
  }

  get subscriptions(): number {
    return this.#subscriptionCount;
  }

  /** Closes every socket (1001 going away; terminated if the peer does not answer within a second) and stops handling upgrades on the path. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#server.off('upgrade', this.#onUpgrade);
    for (const c of [...this.#connections]) this.#release(c, 'server closing');
    const sockets = [...this.#wss.clients].filter((ws) => ws.readyState !== WebSocket.CLOSED);
    for (const ws of sockets) ws.close(1001, 'server shutting down');
    await Promise.all(sockets.map((ws) => closed(ws, CLOSE_GRACE_MS)));
    await new Promise<void>((resolve) => this.#wss.close(() => resolve()));
  }

  readonly #onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer): void => {
    if (pathOf(request.url) !== this.#options.path) return;
    this.#wss.handleUpgrade(request, socket, head, (ws) => this.#accept(ws, request));
  };

  #accept(ws: WebSocket, request: IncomingMessage): void {
    if (this.#closing) {
      ws.terminate();
      return;
    }
    const c: Connection<P> = {
      id: `s${++this.#connectionSeq}`,
      ws,
      request,
      parser: new FrameParser({ maxFrameBytes: this.#options.maxFrameBytes }),
      subscriptions: new Map(),
      queue: [],
      draining: false,
      state: 'awaiting-connect',
      principal: undefined,
      lastReceived: Date.now(),
      lastSent: Date.now(),
      timers: new Map(),
    };
    this.#connections.add(c);
    ws.on('message', (data) => this.#onMessage(c, data));
    ws.on('close', (code) => this.#release(c, `socket closed (${code})`));
    // ws closes the socket after an 'error' (invalid frame, message too big); we only record it.
    ws.on('error', (error) => this.#log('socket-error', { connection: c.id, error: error.message }));
    const timeout = this.#options.connectTimeoutMs;
    c.timers.set('connect', unref(setTimeout(() => {
      if (c.state === 'awaiting-connect') this.#fail(c, `no CONNECT within ${timeout} ms`, 1008);
    }, timeout)));
    this.#log('open', { connection: c.id, remoteAddress: request.socket.remoteAddress, protocol: ws.protocol });
  }

  #onMessage(c: Connection<P>, data: RawData): void {
    if (c.state === 'closed') return;
    c.lastReceived = Date.now();
    let frames: StompFrame[];
    try {
      frames = c.parser.push(toBuffer(data));
    } catch (e) {
      if (!(e instanceof StompParseError)) throw e;
      this.#fail(c, e.message, 1002);
      return;
    }
    if (frames.length === 0) return;
    c.queue.push(...frames);
    // Frames wait while a hook runs; past a few, stop reading so a flooding client cannot grow the queue.
    if (c.queue.length >= PAUSE_READING_AT && !c.ws.isPaused) c.ws.pause();
    if (!c.draining) void this.#drain(c);
  }

  async #drain(c: Connection<P>): Promise<void> {
    c.draining = true;
    try {
      for (let frame = c.queue.shift(); frame && c.state !== 'closed'; frame = c.queue.shift()) {
        await this.#handle(c, frame);
      }
    } finally {
      c.draining = false;
      if (c.state !== 'closed' && c.ws.isPaused) {
        c.lastReceived = Date.now();
        c.ws.resume();
      }
    }
  }

  async #handle(c: Connection<P>, frame: StompFrame): Promise<void> {
    const receipt = frame.command === 'CONNECT' || frame.command === 'STOMP' ? undefined : frame.headers.receipt;
    try {
      await this.#dispatch(c, frame);
      if (receipt !== undefined && c.state === 'connected') this.#send(c, serializeFrame({ command: 'RECEIPT', headers: { 'receipt-id': receipt } }));
    } catch (e) {
      const receiptHeader: Record<string, string> = receipt === undefined ? {} : { 'receipt-id': receipt };
      if (e instanceof ProtocolError) {
        this.#fail(c, e.message, e.closeCode, { ...receiptHeader, ...e.headers });
      } else if (e instanceof StompRejection) {
        this.#fail(c, e.message, 1008, receiptHeader);
      } else {
        this.#log('hook-failed', { connection: c.id, command: frame.command, error: e instanceof Error ? e.message : String(e) });
        this.#fail(c, 'internal server error', 1011, receiptHeader);
      }
    }
  }

  async #dispatch(c: Connection<P>, frame: StompFrame): Promise<void> {
    const { command, headers } = frame;
    if (c.state === 'awaiting-connect') {
      if (command !== 'CONNECT' && command !== 'STOMP') throw new ProtocolError(`expected CONNECT or STOMP, got ${command}`);
      return this.#connect(c, headers);
    }
    switch (command) {
      case 'CONNECT':
      case 'STOMP':
        throw new ProtocolError('already connected');
      case 'SUBSCRIBE':
        return this.#subscribe(c, headers);
      case 'UNSUBSCRIBE':
        this.#unsubscribe(c, required(frame, 'id'));
        return;
      case 'SEND': {
        const destination = required(frame, 'destination');
        if (headers.transaction !== undefined) throw new ProtocolError('transactions are not supported');
        await this.#hooks.onSend(c.principal as P, destination, frame.body.toString('utf8'), headers);
        return;
      }
      case 'ACK':
      case 'NACK':
        // Delivery is fire-and-forget (ack auto in effect); acknowledgements change nothing.
        required(frame, 'id');
        return;
      case 'BEGIN':
      case 'COMMIT':
      case 'ABORT':
        throw new ProtocolError('transactions are not supported');
      case 'DISCONNECT': {
        const receipt = headers.receipt;
        if (receipt !== undefined) this.#send(c, serializeFrame({ command: 'RECEIPT', headers: { 'receipt-id': receipt } }));
        this.#release(c, 'DISCONNECT');
        c.ws.close(1000, 'disconnected');
        return;
      }
      default:
        throw new ProtocolError(`unknown command ${command}`);
    }
  }

  async #connect(c: Connection<P>, headers: Readonly<Record<string, string>>): Promise<void> {
    const accepted = headers['accept-version'];
    // No accept-version is a 1.0 client; 1.2 framing is what it will get (the brief: respond 1.2).
    if (accepted !== undefined && !accepted.split(',').map((v) => v.trim()).includes(VERSION)) {
      throw new ProtocolError(`unsupported STOMP version(s) ${accepted}: this server speaks ${VERSION}`, 1002, { version: VERSION });
    }
    let clientCan: number, clientWants: number;
    try {
      [clientCan, clientWants] = parseHeartbeat(headers['heart-beat']);
    } catch (e) {
      throw new ProtocolError((e as Error).message);
    }
    const principal = await this.#hooks.authenticate(headers, c.request);
    if (c.state === 'closed') return;
    c.principal = principal;
    c.state = 'connected';
    clearTimers(c);
    const { outgoing, incoming } = this.#options.heartbeatMs;
    this.#send(c, serializeFrame({
      command: 'CONNECTED',
      headers: { version: VERSION, 'heart-beat': `${outgoing},${incoming}`, server: this.#options.serverName, session: c.id },
    }));
    this.#startHeartbeats(c, negotiateHeartbeat(outgoing, clientWants), negotiateHeartbeat(clientCan, incoming));
    this.#log('connected', { connection: c.id });
  }

  async #subscribe(c: Connection<P>, headers: Readonly<Record<string, string>>): Promise<void> {
    const id = requiredHeader('SUBSCRIBE', headers, 'id');
    const destination = requiredHeader('SUBSCRIBE', headers, 'destination');
    const ack = headers.ack ?? 'auto';
    if (!isAckMode(ack)) throw new ProtocolError(`invalid ack mode ${JSON.stringify(ack)}: expected auto, client or client-individual`);
    if (c.subscriptions.has(id)) throw new ProtocolError(`subscription id ${JSON.stringify(id)} is already in use`);
    const max = this.#options.maxSubscriptions;
    if (c.subscriptions.size >= max) throw new ProtocolError(`too many subscriptions: at most ${max} per connection`, 1008);
    const allowed = await this.#hooks.authorizeSubscribe(c.principal as P, destination);
    if (c.state === 'closed') return;
    if (!allowed) throw new ProtocolError(`not allowed: ${destination}`, 1008);
    const subscription: Subscription<P> = { connection: c, id, destination, ack };
    c.subscriptions.set(id, subscription);
    let set = this.#byDestination.get(destination);
    if (!set) this.#byDestination.set(destination, (set = new Set()));
    set.add(subscription);
    this.#subscriptionCount++;
  }

  #unsubscribe(c: Connection<P>, id: string): void {
    const s = c.subscriptions.get(id);
    // Unknown ids are a no-op: a client may unsubscribe twice.
    if (!s) return;
    c.subscriptions.delete(id);
    const set = this.#byDestination.get(s.destination);
    set?.delete(s);
    if (set?.size === 0) this.#byDestination.delete(s.destination);
    this.#subscriptionCount--;
  }

  #startHeartbeats(c: Connection<P>, outgoingMs: number, incomingMs: number): void {
    if (outgoingMs > 0) {
      // Re-armed for the remaining idle time, so a beat goes out exactly when the line has been idle for the interval.
      const beat = (): void => {
        const idle = Date.now() - c.lastSent;
        if (idle >= outgoingMs) this.#send(c, HEARTBEAT);
        if (c.state === 'closed') return;
        c.timers.set('beat', unref(setTimeout(beat, idle >= outgoingMs ? outgoingMs : outgoingMs - idle)));
      };
      c.timers.set('beat', unref(setTimeout(beat, outgoingMs)));
    }
    if (incomingMs > 0) {
      c.timers.set('watch', unref(setInterval(() => {
        // While we hold reading back, silence is ours, not the client's.
        if (c.ws.isPaused) c.lastReceived = Date.now();
        const silent = Date.now() - c.lastReceived;
        if (silent <= 2 * incomingMs) return;
        this.#log('heartbeat-timeout', { connection: c.id, silentMs: silent, incomingMs });
        this.#release(c, 'heart-beat timeout');
        c.ws.terminate();
      }, Math.max(1, Math.floor(incomingMs / 2)))));
    }
  }

  /** False when the frame was not sent (connection gone, or terminated for not reading). */
  #send(c: Connection<P>, frame: Buffer): boolean {
    if (c.state === 'closed' || c.ws.readyState !== WebSocket.OPEN) return false;
    c.ws.send(frame, { binary: false });
    c.lastSent = Date.now();
    const buffered = c.ws.bufferedAmount;
    if (buffered <= this.#options.maxBufferedBytes) return true;
    this.#log('slow-consumer', { connection: c.id, bufferedAmount: buffered, maxBufferedBytes: this.#options.maxBufferedBytes });
    this.#release(c, 'slow consumer');
    c.ws.terminate();
    return false;
  }

  /** ERROR frame, then close: the spec's answer to anything wrong. */
  #fail(c: Connection<P>, message: string, closeCode: number, headers: Readonly<Record<string, string>> = {}): void {
    if (c.state === 'closed') return;
    this.#log('error-frame', { connection: c.id, message });
    this.#send(c, serializeFrame({ command: 'ERROR', headers: { message, ...headers, 'content-type': 'text/plain' }, body: message }));
    this.#release(c, message);
    c.ws.close(closeCode);
  }

  /** Forgets a connection at once (subscriptions, timers, count); idempotent. The socket closes separately. */
  #release(c: Connection<P>, reason: string): void {
    if (c.state === 'closed') return;
    c.state = 'closed';
    clearTimers(c);
    c.queue.length = 0;
    // A paused socket would not read the peer's close frame, holding the close for ws's 30 s timeout.
    if (c.ws.isPaused) c.ws.resume();
    for (const id of [...c.subscriptions.keys()]) this.#unsubscribe(c, id);
    this.#connections.delete(c);
    this.#log('closed', { connection: c.id, reason });
  }
}

// ---------------------------------------------------------------------------------------------

const VERSION = '1.2';
const SUBPROTOCOLS = ['v12.stomp', 'v11.stomp', 'v10.stomp'];
const PAUSE_READING_AT = 32;
const CLOSE_GRACE_MS = 1000;
/** Set by the server per subscription; a publisher's value would misroute or desynchronize. */
const RESERVED_MESSAGE_HEADERS: ReadonlySet<string> = new Set(['subscription', 'message-id', 'destination', 'ack', 'content-length', 'content-type']);

type AckMode = 'auto' | 'client' | 'client-individual';

interface Subscription<P> {
  readonly connection: Connection<P>;
  readonly id: string;
  readonly destination: string;
  readonly ack: AckMode;
}

interface Connection<P> {
  readonly id: string;
  readonly ws: WebSocket;
  readonly request: IncomingMessage;
  readonly parser: FrameParser;
  readonly subscriptions: Map<string, Subscription<P>>;
  readonly queue: StompFrame[];
  /** connect deadline, outgoing beat, incoming watch: one each at most. */
  readonly timers: Map<'connect' | 'beat' | 'watch', NodeJS.Timeout>;
  draining: boolean;
  state: 'awaiting-connect' | 'connected' | 'closed';
  principal: P | undefined;
  lastReceived: number;
  lastSent: number;
}

/** A client mistake: ERROR frame and close with this WebSocket code. */
class ProtocolError extends Error {
  constructor(message: string, readonly closeCode = 1002, readonly headers: Readonly<Record<string, string>> = {}) {
    super(message);
  }
}

function resolveOptions(o: StompServerOptions): Required<Omit<StompServerOptions, 'logger'>> {
  const heartbeatMs = o.heartbeatMs ?? { outgoing: 10_000, incoming: 10_000 };
  const resolved = {
    path: o.path ?? '/ws',
    heartbeatMs: { outgoing: heartbeatMs.outgoing, incoming: heartbeatMs.incoming },
    maxBufferedBytes: o.maxBufferedBytes ?? 1024 * 1024,
    maxFrameBytes: o.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES,
    maxSubscriptions: o.maxSubscriptions ?? 100,
    connectTimeoutMs: o.connectTimeoutMs ?? 10_000,
    serverName: o.serverName ?? 'orderstream-stomp/1.0',
  };
  const checks: Array<[string, number, number]> = [
    ['heartbeatMs.outgoing', resolved.heartbeatMs.outgoing, 0],
    ['heartbeatMs.incoming', resolved.heartbeatMs.incoming, 0],
    ['maxBufferedBytes', resolved.maxBufferedBytes, 1],
    ['maxFrameBytes', resolved.maxFrameBytes, 2],
    ['maxSubscriptions', resolved.maxSubscriptions, 1],
    ['connectTimeoutMs', resolved.connectTimeoutMs, 1],
  ];
  for (const [name, value, min] of checks) {
    if (!Number.isInteger(value) || value < min) throw new RangeError(`StompServer option ${name} must be an integer ≥ ${min}, got ${value}`);
  }
  if (!resolved.path.startsWith('/')) throw new RangeError(`StompServer option path must start with "/", got ${JSON.stringify(resolved.path)}`);
  return resolved;
}

function required(frame: StompFrame, name: string): string {
  return requiredHeader(frame.command, frame.headers, name);
}

function requiredHeader(command: string, headers: Readonly<Record<string, string>>, name: string): string {
  const value = headers[name];
  if (value === undefined || value === '') throw new ProtocolError(`${command} frame is missing the required header ${name}`);
  return value;
}

function isAckMode(value: string): value is AckMode {
  return value === 'auto' || value === 'client' || value === 'client-individual';
}

function isJson(body: string): boolean {
  if (body.length === 0) return false;
  try {
    JSON.parse(body);
    return true;
  } catch {
    return false;
  }
}

function pathOf(url: string | undefined): string | undefined {
  try {
    return new URL(url ?? '/', 'http://localhost').pathname;
  } catch {
    return undefined;
  }
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

function clearTimers(c: Connection<unknown>): void {
  for (const t of c.timers.values()) clearTimeout(t);
  c.timers.clear();
}

function unref(timer: NodeJS.Timeout): NodeJS.Timeout {
  timer.unref();
  return timer;
}

function closed(ws: WebSocket, graceMs: number): Promise<void> {
  if (ws.readyState === WebSocket.CLOSED) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => ws.terminate(), graceMs);
    ws.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}
