/**
 * A TCP proxy on loopback that can black-hole traffic (a network partition: bytes are held, no
 * connection is closed) and heal it again, so a test can take a real broker away from one client
 * without stopping the broker that other tests share.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';

export class TcpProxy {
  #server: Server | undefined;
  #blocked = false;
  readonly #held: (() => void)[] = [];
  readonly #sockets = new Set<Socket>();
  port = 0;

  constructor(private readonly upstreamHost: string, private readonly upstreamPort: number) {}

  async start(): Promise<void> {
    this.#server = createServer((client) => {
      const upstream = createConnection({ host: this.upstreamHost, port: this.upstreamPort });
      for (const s of [client, upstream]) { this.#sockets.add(s); s.on('close', () => this.#sockets.delete(s)); s.on('error', () => s.destroy()); }
      const forward = (from: Socket, to: Socket) => from.on('data', (chunk) => {
        if (this.#blocked) this.#held.push(() => to.write(chunk));
        else to.write(chunk);
      });
      forward(client, upstream);
      forward(upstream, client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve) => this.#server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.#server.address() as { port: number }).port;
  }

  blackhole(): void {
    this.#blocked = true;
  }

  heal(): void {
    this.#blocked = false;
    for (const send of this.#held.splice(0)) send();
  }

  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => (this.#server ? this.#server.close(() => resolve()) : resolve()));
  }
}
