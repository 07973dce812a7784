/**
 * The offsets stream of a group is bounded (x-max-length-bytes): a partition whose position is
 * written once and never again is lost after that much commit traffic of the group's other
 * partitions, unless its owner re-writes it. Run on the real RabbitMQ with a small bound.
 */
import test, { type ExecutionContext } from 'ava';
import { randomUUID } from 'node:crypto';
import { RabbitTransport, type RabbitTransportOptions } from '../../transports/rabbit/index.ts';
import { endpoints } from '../../scripts/endpoints.ts';
import { sleep } from '../../transports/util.ts';
import { waitUntil } from './suite.ts';

const { rabbitUrl, rabbitManagementUrl } = endpoints();
const MAX_BYTES = 256 * 1024;
/** Commits of the busy partition, in batches: several times the bound, spread over refreshes. */
const BATCHES = 40;
const PER_BATCH = 500;

async function quietPositionAfterTraffic(t: ExecutionContext, options: Partial<RabbitTransportOptions>): Promise<{ quiet: number | undefined; busy: number | undefined }> {
  const transport = new RabbitTransport({ url: rabbitUrl, managementUrl: rabbitManagementUrl, offsetsMaxBytes: MAX_BYTES, ...options });
  const id = randomUUID().slice(0, 8);
  const topic = `offsets-retention-${id}`;
  const group = `offsets-retention-${id}`;
  await transport.admin().createTopics([{ name: topic, partitions: 2 }]);
  t.teardown(async () => {
    await transport.admin().deleteTopics([topic]).catch(() => undefined);
    await transport.admin().deleteGroups([group]).catch(() => undefined);
    await transport.close();
  });
  const consumer = transport.consumer({ groupId: group, topics: [topic] });
  await consumer.connect();
  await consumer.run(async () => undefined);
  await waitUntil(() => consumer.assignment().length === 2, 'both partitions assigned', 30_000, consumer);
  await consumer.commit([{ topic, partition: 0, offset: 7 }]);
  let n = 0;
  for (let b = 0; b < BATCHES; b++) {
    await consumer.commit(Array.from({ length: PER_BATCH }, () => ({ topic, partition: 1, offset: ++n })));
    await sleep(100);
  }
  await consumer.disconnect();
  const reader = transport.consumer({ groupId: group, topics: [topic] });
  await reader.connect();
  const [quiet, busy] = await reader.committed([{ topic, partition: 0 }, { topic, partition: 1 }]);
  await reader.disconnect();
  t.is(busy, n, 'the busy partition keeps its latest position either way');
  return { quiet, busy };
}

test.serial('rabbit: an owned quiet partition keeps its position through commit traffic past the offsets stream bound', async (t) => {
  const { quiet } = await quietPositionAfterTraffic(t, { offsetsRefreshMs: 200 });
  t.is(quiet, 7);
});

test.serial('rabbit: without re-writing, retention drops the quiet partition position (the behaviour fixed)', async (t) => {
  const { quiet } = await quietPositionAfterTraffic(t, { offsetsRefreshMs: 0 });
  t.is(quiet, undefined);
});
