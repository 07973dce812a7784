import { MongoClient, MongoServerError } from 'mongodb';
const client = new MongoClient('mongodb://127.0.0.1:27017', { serverSelectionTimeoutMS: 5000 });
await client.connect();
const dbName = `probe_${Math.random().toString(36).slice(2)}`;
const db = client.db(dbName);
async function step(name: string, f: () => Promise<unknown>) {
  try { const x = await f(); console.log(name, 'OK', JSON.stringify(x)); return x; }
  catch (e) { console.log(name, 'ERR', e instanceof MongoServerError ? `code=${e.code} codeName=${e.codeName} ${e.message}` : String(e)); return undefined; }
}
console.log(JSON.stringify(await db.admin().command({ buildInfo: 1 })).slice(0, 400));
const orders = db.collection<{ _id?: unknown; orderId: string; customer: string; total: number; status: string; createdAt?: Date; n?: number }>('orders');
await step('insertMany', () => orders.insertMany([
  { orderId: 'o1', customer: 'alice', total: 10, status: 'open' },
  { orderId: 'o2', customer: 'bob', total: 20, status: 'open' },
  { orderId: 'o3', customer: 'alice', total: 5, status: 'shipped' },
  { orderId: 'o4', customer: 'carol', total: 7, status: 'open' },
]));
await step('findOne', () => orders.findOne({ orderId: 'o1' }, { projection: { _id: 0 } }));
await step('updateOne', () => orders.updateOne({ orderId: 'o1' }, { $set: { status: 'paid' } }));
await step('deleteOne', () => orders.deleteOne({ orderId: 'o4' }));
await step('count', () => orders.countDocuments());
await step('unique idx', () => orders.createIndex({ orderId: 1 }, { unique: true, name: 'orderId_unique' }));
await step('dup', () => orders.insertOne({ orderId: 'o1', customer: 'x', total: 1, status: 'open' }));
await step('dup via update', () => orders.updateOne({ orderId: 'o2' }, { $set: { orderId: 'o1' } }));
await step('ttl idx', () => orders.createIndex({ createdAt: 1 }, { expireAfterSeconds: 1, name: 'createdAt_ttl' }));
await step('compound idx', () => orders.createIndex({ customer: 1, total: -1 }));
await step('listIndexes', () => orders.listIndexes().toArray());
await step('indexInformation', () => orders.indexInformation({ full: true }));
await step('insert ttl doc', () => orders.insertOne({ orderId: 'ttl1', customer: 'z', total: 0, status: 'tmp', createdAt: new Date(Date.now() - 3600_000) }));
await step('upsert new', () => orders.updateOne({ orderId: 'o9' }, { $set: { customer: 'dave', status: 'open' }, $setOnInsert: { total: 0 } }, { upsert: true }));
await step('upsert existing', () => orders.updateOne({ orderId: 'o9' }, { $set: { status: 'x' } }, { upsert: true }));
await step('findOneAndUpdate after', () => orders.findOneAndUpdate({ orderId: 'o10' }, { $inc: { n: 1 }, $setOnInsert: { customer: 'erin', total: 1, status: 'open' } }, { upsert: true, returnDocument: 'after', projection: { _id: 0 } }));
await step('findOneAndUpdate after 2', () => orders.findOneAndUpdate({ orderId: 'o10' }, { $inc: { n: 5 } }, { returnDocument: 'after', projection: { _id: 0 } }));
await step('findOneAndUpdate before', () => orders.findOneAndUpdate({ orderId: 'o10' }, { $inc: { n: 1 } }, { returnDocument: 'before', projection: { _id: 0 }, includeResultMetadata: true }));
await step('agg group', () => orders.aggregate([{ $match: { status: { $in: ['open', 'paid', 'shipped'] } } }, { $group: { _id: '$customer', total: { $sum: '$total' }, n: { $sum: 1 } } }, { $sort: { total: -1, _id: 1 } }, { $limit: 2 }]).toArray());
await step('agg count', () => orders.aggregate([{ $match: { customer: 'alice' } }, { $count: 'c' }]).toArray());
await step('agg project', () => orders.aggregate([{ $project: { _id: 0, orderId: 1, dbl: { $multiply: ['$total', 2] } } }, { $limit: 1 }]).toArray());
await step('agg lookup', () => orders.aggregate([{ $lookup: { from: 'orders', localField: 'customer', foreignField: 'customer', as: 'x' } }]).toArray());
await step('agg group avg max', () => orders.aggregate([{ $group: { _id: null, avg: { $avg: '$total' }, max: { $max: '$total' } } }]).toArray());
await step('agg addFields', () => orders.aggregate([{ $addFields: { y: 1 } }, { $limit: 1 }]).toArray());
await step('distinct', () => orders.distinct('customer'));
await new Promise((r) => setTimeout(r, 3000));
await step('ttl doc after 3s', () => orders.countDocuments({ orderId: 'ttl1' }));
await step('dropIndex', () => orders.dropIndex('createdAt_ttl'));
await step('tx', async () => { const s = client.startSession(); try { await s.withTransaction(async () => { await orders.insertOne({ orderId: 'tx', customer: 'q', total: 1, status: 'x' }, { session: s }); }); } finally { await s.endSession(); } return 'done'; });
await step('bulkWrite', () => orders.bulkWrite([{ updateOne: { filter: { orderId: 'o2' }, update: { $inc: { total: 1 } } } }, { deleteOne: { filter: { orderId: 'o3' } } }]));
await step('drop', () => db.dropDatabase());
await step('listDbs has', async () => (await client.db().admin().listDatabases()).databases.some((d) => d.name === dbName));
await client.close();
