/** The harness RabbitMQ as the benches use it: a transport, whether it answers, and a sweep of a run's topics and groups. */
import { endpoints } from '../../scripts/endpoints.ts';
import { RabbitTransport, type Transport } from '../../transports/index.ts';
import { Management } from '../../transports/rabbit/management.ts';
import { offsetsStream } from '../../transports/rabbit/naming.ts';
import { withTimeout } from '../../transports/util.ts';

export const rabbitTransport = (): RabbitTransport => new RabbitTransport({ url: endpoints().rabbitUrl, managementUrl: endpoints().rabbitManagementUrl });

/** Whether the harness RabbitMQ answers (AMQP and its management API) within a few seconds. */
export async function rabbitUp(): Promise<boolean> {
  const t = rabbitTransport();
  try {
    await withTimeout(t.admin().describeTopic('bench-probe-absent'), 5000, () => new Error('RabbitMQ did not answer in 5 s'));
    return true;
  } catch {
    return false;
  } finally {
    await t.close().catch(() => undefined);
  }
}

/** Deletes the groups and topics whose names start with `prefix` (a topic T is queues T.0 … T.n-1). */
export async function sweepRabbit(transport: Transport, prefix: string): Promise<void> {
  const m = new Management(endpoints().rabbitUrl, endpoints().rabbitManagementUrl);
  const offsets = offsetsStream('');
  const groups = (await m.queues(`${offsets}${prefix}`)).map((q) => q.slice(offsets.length));
  const topics = [...new Set((await m.queues(prefix)).map((q) => q.replace(/\.\d+$/, '')))];
  if (groups.length) await transport.admin().deleteGroups(groups);
  if (topics.length) await transport.admin().deleteTopics(topics);
}
