/**
 * The projector scenario on a real broker, the real registry and real FerretDB (MONGO_URL): a
 * fresh topic prefix and database per run, swept and dropped afterwards, so runs can follow one
 * another and share the services.
 */
import type { ExecutionContext } from 'ava';
import { randomUUID } from 'node:crypto';
import { MongoClient } from 'mongodb';
import { endpoints } from '../../scripts/endpoints.ts';
import { remoteRegistry } from '../../schemas/index.ts';
import { mongoPersistence } from '../../persistence/index.ts';
import { sweep, type BrokerTarget } from '../saga/brokers.ts';
import { runScenario } from './scenario.ts';

export async function runOnBroker(t: ExecutionContext, target: BrokerTarget): Promise<void> {
  const run = randomUUID().slice(0, 8);
  const prefix = `rm-test-${run}.`;
  const database = `rm_test_${run}`;
  const { mongoUrl, schemaRegistryUrl } = endpoints();
  const transport = target.make();
  const registry = remoteRegistry(schemaRegistryUrl).client;
  const persistence = mongoPersistence({ url: mongoUrl, database });
  t.teardown(async () => {
    await persistence.close();
    const client = new MongoClient(mongoUrl, { serverSelectionTimeoutMS: 5_000 });
    try {
      await client.db(database).dropDatabase();
    } finally {
      await client.close();
    }
    const left = await sweep(target, transport, registry, prefix);
    await transport.close();
    if (left.length > 0) throw new Error(`cleanup of ${prefix} incomplete: ${left.join('; ')}`);
  });
  await runScenario(t, { transport, registry, persistence, prefix });
}
