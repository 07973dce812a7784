/* global crypto, location */
/**
 * The page's one STOMP connection (`/ws`). It keeps the set of destinations the page wants and
 * subscribes them again after every reconnect (stompjs does not). The gateway answers a refused
 * SUBSCRIBE or SEND with ERROR and closes the socket, so a refused destination is dropped from the
 * set (or the page would reconnect into the same refusal forever) and a refused send rejects its
 * promise with the server's message.
 */
import { Client } from '/vendor/stompjs/index.js';

export class Realtime {
  #api;
  #client;
  /** destination → { handlers: Set, ready: Promise (resolves once subscribed), sub } */
  #wanted = new Map();
  /** receipt id → { resolve, reject, destination? } */
  #pending = new Map();
  #listeners = new Set();
  state = 'offline';

  constructor(api) {
    this.#api = api;
  }

  start() {
    if (this.#client) return;
    const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
    this.#client = new Client({
      brokerURL: url,
      reconnectDelay: 1000,
      heartbeatIncoming: 20000,
      heartbeatOutgoing: 20000,
      // A token about to expire is refreshed before CONNECT rather than refused after it.
      beforeConnect: async (client) => {
        if (this.#api.accessTokenSecondsLeft < 30) await this.#api.refresh();
        client.connectHeaders = { Authorization: `Bearer ${this.#api.accessToken ?? ''}` };
      },
      onConnect: () => {
        this.#setState('online');
        for (const [destination, w] of this.#wanted) this.#subscribe(destination, w);
      },
      onStompError: (frame) => this.#refused(frame),
      onWebSocketClose: () => {
        for (const w of this.#wanted.values()) w.sub = undefined;
        for (const [id, p] of this.#pending) { this.#pending.delete(id); p.reject(new Error('the connection closed before the server answered')); }
        if (this.#client?.active) this.#setState('reconnecting');
      },
    });
    this.#client.activate();
  }

  async stop() {
    const client = this.#client;
    this.#client = undefined;
    this.#wanted.clear();
    this.#setState('offline');
    await client?.deactivate();
  }

  /** Calls `listener(state)` on 'online' | 'reconnecting' | 'offline'. */
  onState(listener) {
    this.#listeners.add(listener);
    listener(this.state);
  }

  /**
   * Subscribes `handler(json)` to a destination; resolves once the server confirmed the
   * subscription (its RECEIPT), so that a read made after it misses no push.
   */
  subscribe(destination, handler) {
    let w = this.#wanted.get(destination);
    if (!w) {
      w = { handlers: new Set(), sub: undefined };
      w.ready = new Promise((resolve, reject) => { w.resolve = resolve; w.reject = reject; });
      this.#wanted.set(destination, w);
      if (this.#client?.connected) this.#subscribe(destination, w);
    }
    w.handlers.add(handler);
    return w.ready;
  }

  unsubscribe(destination) {
    const w = this.#wanted.get(destination);
    this.#wanted.delete(destination);
    if (w?.sub && this.#client?.connected) w.sub.unsubscribe();
  }

  /** SEND with a receipt: resolves when the gateway accepted the message, rejects with its reason. */
  send(destination, json) {
    if (!this.#client?.connected) return Promise.reject(new Error('not connected'));
    const receipt = crypto.randomUUID();
    return new Promise((resolve, reject) => {
      this.#pending.set(receipt, { resolve, reject });
      this.#client.watchForReceipt(receipt, () => this.#settle(receipt));
      this.#client.publish({ destination, body: JSON.stringify(json), headers: { 'content-type': 'application/json', receipt } });
    });
  }

  get connected() {
    return this.#client?.connected ?? false;
  }

  #subscribe(destination, w) {
    const receipt = crypto.randomUUID();
    this.#pending.set(receipt, { resolve: () => w.resolve(), reject: () => undefined, destination });
    this.#client.watchForReceipt(receipt, () => this.#settle(receipt));
    w.sub = this.#client.subscribe(destination, (message) => {
      let body;
      try { body = JSON.parse(message.body); } catch { return; }
      for (const handler of w.handlers) handler(body);
    }, { receipt });
  }

  #settle(receipt) {
    const p = this.#pending.get(receipt);
    this.#pending.delete(receipt);
    p?.resolve();
  }

  #refused(frame) {
    const message = frame.headers.message ?? 'the server refused';
    const receipt = frame.headers['receipt-id'];
    const p = receipt === undefined ? undefined : this.#pending.get(receipt);
    if (p) {
      this.#pending.delete(receipt);
      if (p.destination) this.#drop(p.destination, message);
      else p.reject(new Error(message));
      return;
    }
    const m = /not allowed: (\S+)/.exec(message);
    if (m) this.#drop(m[1], message);
    // A refused token: refresh before the automatic reconnect.
    else if (/token|expired|jwt/i.test(message)) void this.#api.refresh();
  }

  #drop(destination, message) {
    const w = this.#wanted.get(destination);
    this.#wanted.delete(destination);
    w?.reject(new Error(message));
  }

  #setState(state) {
    this.state = state;
    for (const l of this.#listeners) l(state);
  }
}
