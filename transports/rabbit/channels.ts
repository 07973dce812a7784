/** Short-lived channels: a channel error (404, 405, …) closes its channel, so risky calls get their own. */
import type { ChannelModel, ConfirmChannel } from 'amqplib';

export async function withChannel<T>(conn: ChannelModel, fn: (ch: ConfirmChannel) => Promise<T>): Promise<T> {
  const ch = await conn.createConfirmChannel();
  // The error also rejects the call that caused it, which `fn` reports; the event needs a listener.
  ch.on('error', () => undefined);
  try {
    return await fn(ch);
  } finally {
    await ch.close().catch(() => undefined);
  }
}
