/**
 * The conformance suite on the MongoDB implementation against the harness's database (FerretDB
 * 1.24), in a database of its own per run, dropped at the end; and what is particular to it.
 */
import test from 'ava';
import { randomUUID } from 'node:crypto';
import { MongoClient } from 'mongodb';
import { endpoints } from '../../scripts/endpoints.ts';
import { DatabaseUnavailableError, mongoPersistence } from '../../persistence/index.ts';
import { persistenceConformance } from './suite.ts';

const { mongoUrl } = endpoints();
const database = `orderstream_persistence_${randomUUID().slice(0, 8)}`;
const raw = new MongoClient(mongoUrl, { serverSelectionTimeoutMS: 5_000 });

test.after.always('drop the per-run database', async (t) => {
  try {
    await raw.db(database).dropDatabase();
    const { databases } = await raw.db().admin().listDatabases();
    t.false(databases.some((d) => d.name === database), `${database} still listed`);
  } finally {
    await raw.close();
  }
});

persistenceConformance('mongo', () => mongoPersistence({ url: mongoUrl, database, serverSelectionTimeoutMS: 5_000 }));

test.serial('mongo: nothing listening → ping and opening fail with DatabaseUnavailableError', async (t) => {
  const p = mongoPersistence({ url: 'mongodb://127.0.0.1:1', database, serverSelectionTimeoutMS: 300 });
  t.teardown(() => p.close());
  const err = await t.throwsAsync(p.ping());
  t.true(err instanceof DatabaseUnavailableError, String(err));
  t.true((err as DatabaseUnavailableError).retriable);
  // Opening creates indexes; a collection without any connects at its first operation.
  await t.throwsAsync(p.collection({ name: 'never', indexes: [{ fields: ['x'] }] }), { instanceOf: DatabaseUnavailableError });
  const lazy = await p.collection({ name: 'never' });
  await t.throwsAsync(lazy.get('x'), { instanceOf: DatabaseUnavailableError });
});

test.serial('mongo: expiry is stored as a Date copy for a TTL index, or swept where the server has none', async (t) => {
  const p = mongoPersistence({ url: mongoUrl, database });
  t.teardown(() => p.close());
  const name = `ttl_${randomUUID().slice(0, 8)}`;
  const c = await p.collection<{ _id: string; expiresAt: number }>({ name, expiresAtField: 'expiresAt' });
  const at = Date.now() + 60_000;
  await c.insert({ _id: 'k', expiresAt: at });
  t.deepEqual(await c.get('k'), { _id: 'k', expiresAt: at }, 'reads do not show the copy');
  const stored = await raw.db(database).collection(name).findOne({ _id: 'k' as never });
  t.deepEqual(stored?._expiresAt, new Date(at));
  const indexes = await raw.db(database).collection(name).listIndexes().toArray();
  const ttl = indexes.find((i) => i.name === '_expiresAt_ttl');
  const plain = indexes.find((i) => i.key?.expiresAt === 1);
  t.log(ttl ? 'TTL index created' : 'no TTL index (FerretDB): a plain index and a periodic sweep');
  t.true(ttl ? ttl.expireAfterSeconds === 0 : plain !== undefined, JSON.stringify(indexes));
});

test.serial('mongo: without a TTL index the periodic sweep removes expired documents', async (t) => {
  const p = mongoPersistence({ url: mongoUrl, database, sweepIntervalMs: 50 });
  t.teardown(() => p.close());
  const name = `sweep_${randomUUID().slice(0, 8)}`;
  const c = await p.collection<{ _id: string; expiresAt: number }>({ name, expiresAtField: 'expiresAt' });
  await c.insert({ _id: 'gone', expiresAt: Date.now() - 1_000 });
  await c.insert({ _id: 'kept', expiresAt: Date.now() + 3_600_000 });
  const rawCollection = raw.db(database).collection(name);
  if ((await rawCollection.listIndexes().toArray()).some((i) => i.name === '_expiresAt_ttl')) {
    t.pass('a TTL index removes them (MongoDB\'s monitor runs once a minute; not waited for)');
    return;
  }
  const deadline = Date.now() + 30_000;
  while ((await rawCollection.countDocuments({ _id: 'gone' as never })) > 0) {
    if (Date.now() > deadline) throw new Error('the expired document was not swept within 30 s');
    await new Promise((r) => setTimeout(r, 50));
  }
  t.deepEqual((await rawCollection.find({}).toArray()).map((d) => d._id), ['kept']);
});
