/**
 * Runs the same behaviour probes and a small throughput comparison against several
 * MongoDB-compatible servers (e.g. FerretDB on SQLite and FerretDB on PostgreSQL) and prints the
 * results side by side, so that "does backend X remove gap Y" is answered by measurement:
 *
 *   node --import tsx scripts/ferretdb/compare-backends.ts \
 *     pg=mongodb://127.0.0.1:27018 sqlite=mongodb://127.0.0.1:27019 [--ops=2000] [--ttl-wait=0] [--repeat=5]
 *
 * Each server is probed in its own database, `orderstream_cmp_<run>`, dropped at the end.
 * `--ttl-wait=S`: where a TTL index is accepted, wait up to S seconds for the expired document
 * to disappear (MongoDB's TTL monitor runs every 60 s).
 * `--repeat=N`: how often each race (concurrent writes to one document) is run; outcomes vary.
 * `scripts/ferretdb/backends.sh up` starts private FerretDBs on both backends to compare.
 */
import { randomUUID } from 'node:crypto';
import { type Collection, type Db, type Document, MongoClient, MongoServerError } from 'mongodb';

interface Target {
  readonly label: string;
  readonly url: string;
}

type Probe = (db: Db, client: MongoClient) => Promise<string>;

const CONCURRENT_WRITERS = 50;

/** Races: each is run `--repeat` times on fresh collections, since outcomes vary run to run. */
const races: Record<string, (db: Db, run: number) => Promise<string>> = {
  async 'concurrent $inc x50 on one doc (final n; MongoDB: 50)'(db, run) {
    const c = db.collection<{ _id: string; n: number }>(`inc_${run}`);
    await c.insertOne({ _id: 'c', n: 0 });
    const res = await Promise.all(times(CONCURRENT_WRITERS, () => c.updateOne({ _id: 'c' }, { $inc: { n: 1 } })));
    const acked = res.reduce((s, r) => s + r.modifiedCount, 0);
    return `${(await c.findOne({ _id: 'c' }))?.n}${acked === CONCURRENT_WRITERS ? '' : ` (acked ${acked})`}`;
  },
  async 'concurrent upsert x50 of one new key (rejected/final n; MongoDB: 0/50)'(db, run) {
    const c = db.collection<{ _id: string; n: number }>(`upsert_${run}`);
    const errs = await Promise.all(
      times(CONCURRENT_WRITERS, () =>
        c.updateOne({ _id: 'u' }, { $inc: { n: 1 } }, { upsert: true }).then(() => undefined, (e: unknown) => e),
      ),
    );
    const failed = errs.filter((e) => e !== undefined);
    const other = failed.filter((e) => !(e instanceof MongoServerError && e.code === 11000));
    return `${failed.length}/${(await c.findOne({ _id: 'u' }))?.n}${other.length ? ` ${codes(other)}` : ''}`;
  },
  async 'concurrent CAS x20, v:0 -> v:1 (winners; MongoDB: 1)'(db, run) {
    const c = db.collection<{ _id: string; v: number; by?: number }>(`cas_${run}`);
    await c.insertOne({ _id: 'c', v: 0 });
    const res = await Promise.all(times(20, (i) => c.updateOne({ _id: 'c', v: 0 }, { $set: { v: 1, by: i } })));
    return String(res.filter((r) => r.modifiedCount === 1).length);
  },
};

const probes: Record<string, Probe> = {
  async 'TTL index (expireAfterSeconds)'(db) {
    const c = await db.createCollection('ttl');
    try {
      await c.createIndex({ at: 1 }, { expireAfterSeconds: 1, name: 'at_ttl' });
    } catch (e) {
      return `refused ${codes([e])}`;
    }
    await c.insertOne({ at: new Date(Date.now() - 3_600_000) });
    const deadline = Date.now() + ttlWaitSeconds * 1000;
    while (Date.now() < deadline && (await c.countDocuments()) > 0) await sleep(2000);
    const left = await c.countDocuments();
    return `created; expired doc ${left === 0 ? 'removed' : `still there after ${ttlWaitSeconds}s`}`;
  },
  async 'collMod'(db) {
    await db.createCollection('collmod');
    return outcome(db.command({ collMod: 'collmod' }));
  },
  async '$group with 2 accumulators'(db) {
    const c = await seeded(db, 'group');
    const rows = await c
      .aggregate([{ $group: { _id: '$customer', revenue: { $sum: '$total' }, orders: { $sum: 1 } } }, { $sort: { _id: 1 } }])
      .toArray();
    const ok = JSON.stringify(rows) === JSON.stringify(EXPECTED_GROUP);
    return `${ok ? 'correct' : 'WRONG'} ${rows.map((r) => `${r._id}:${r.revenue}/${r.orders}`).join(' ')}`;
  },
  ...Object.fromEntries(
    Object.entries({
      $avg: [{ $group: { _id: null, x: { $avg: '$total' } } }],
      $min: [{ $group: { _id: null, x: { $min: '$total' } } }],
      $max: [{ $group: { _id: null, x: { $max: '$total' } } }],
      $first: [{ $sort: { total: 1 } }, { $group: { _id: null, x: { $first: '$total' } } }],
      $push: [{ $group: { _id: null, x: { $push: '$total' } } }],
      $addToSet: [{ $group: { _id: null, x: { $addToSet: '$customer' } } }],
      $lookup: [{ $lookup: { from: 'ops', localField: 'customer', foreignField: 'customer', as: 'x' } }, { $count: 'n' }],
      $facet: [{ $facet: { a: [{ $count: 'n' }] } }],
      $sortByCount: [{ $sortByCount: '$customer' }],
      $multiply: [{ $project: { _id: 0, x: { $multiply: ['$total', 2] } } }, { $limit: 1 }],
    } satisfies Record<string, Document[]>).map(([op, pipeline]): [string, Probe] => [
      `aggregate ${op}`,
      async (db) => outcome((await seeded(db, 'ops')).aggregate(pipeline).toArray()),
    ]),
  ),
  async 'transaction (withTransaction insert)'(db, client) {
    const c = db.collection('tx');
    await c.insertOne({ seed: true });
    const session = client.startSession();
    try {
      const r = await outcome(session.withTransaction(() => c.insertOne({ inTx: true }, { session })));
      return `${r}, committed doc ${(await c.countDocuments({ inTx: true })) === 1 ? 'present' : 'absent'}`;
    } finally {
      await session.endSession();
    }
  },
  async 'dup key: insert'(db) {
    const c = await uniqueSeeded(db, 'dup_insert');
    return outcome(c.insertOne({ orderId: 'o1' }), (e) => `keyValue ${JSON.stringify(e.keyValue)}`);
  },
  async 'dup key: updateOne'(db) {
    const c = await uniqueSeeded(db, 'dup_update');
    return outcome(c.updateOne({ orderId: 'o2' }, { $set: { orderId: 'o1' } }));
  },
  async 'dup key: replaceOne'(db) {
    const c = await uniqueSeeded(db, 'dup_replace');
    return outcome(c.replaceOne({ orderId: 'o2' }, { orderId: 'o1' }));
  },
  async 'dup key: findOneAndUpdate'(db) {
    const c = await uniqueSeeded(db, 'dup_fam');
    return outcome(c.findOneAndUpdate({ orderId: 'o2' }, { $set: { orderId: 'o1' } }));
  },
  async 'dup key: upsert inserting a dup'(db) {
    const c = await uniqueSeeded(db, 'dup_upsert');
    return outcome(c.updateOne({ orderId: 'nope', customer: 'z' }, { $set: { orderId: 'o1' } }, { upsert: true }));
  },
  async 'unique: two docs missing the field'(db) {
    const c = await uniqueSeeded(db, 'dup_missing');
    await c.insertOne({ customer: 'no-id-1' });
    return outcome(c.insertOne({ customer: 'no-id-2' }), undefined, 'second accepted (MongoDB: 11000)');
  },
  async 'unique index over existing dups'(db) {
    return outcome((await seeded(db, 'dup_build')).createIndex({ customer: 1 }, { unique: true }));
  },
  async 'partial index'(db) {
    return outcome((await seeded(db, 'partial')).createIndex({ total: 1 }, { partialFilterExpression: { total: { $gt: 5 } } }));
  },
  async 'findOneAndUpdate with projection'(db) {
    const c = await seeded(db, 'fam_proj');
    return outcome(c.findOneAndUpdate({ orderId: 'o1' }, { $inc: { total: 1 } }, { projection: { _id: 0 }, returnDocument: 'after' }));
  },
};

const EXPECTED_GROUP = [
  { _id: 'alice', revenue: 15, orders: 2 },
  { _id: 'bob', revenue: 21, orders: 2 },
  { _id: 'carol', revenue: 7, orders: 1 },
];

/**
 * Sequential single-document ops, as a request handler does them; ops/s per kind. String `_id`s
 * as the persistence layer uses: FerretDB's SQLite backend pushes a filter down to SQL only for a
 * string or ObjectId `_id` and scans the collection (in Go) for anything else, indexed or not.
 */
async function throughput(db: Db, ops: number): Promise<Record<string, number>> {
  const c = db.collection<{ _id: string; orderId: string; total: number }>('tput');
  await c.createIndex({ orderId: 1 }, { unique: true });
  const rate = async (fn: (i: number) => Promise<unknown>) => {
    const start = performance.now();
    for (let i = 0; i < ops; i++) await fn(i);
    return Math.round(ops / ((performance.now() - start) / 1000));
  };
  return {
    'insertOne ops/s': await rate((i) => c.insertOne({ _id: `k${i}`, orderId: `o${i}`, total: i })),
    'findOne by _id ops/s': await rate((i) => c.findOne({ _id: `k${i}` })),
    'findOne by indexed field ops/s': await rate((i) => c.findOne({ orderId: `o${i}` })),
    'updateOne $set by _id ops/s': await rate((i) => c.updateOne({ _id: `k${i}` }, { $set: { total: -i } })),
  };
}

function seedOrders(): Document[] {
  return [
    { orderId: 'o1', customer: 'alice', total: 10 },
    { orderId: 'o2', customer: 'bob', total: 20 },
    { orderId: 'o3', customer: 'alice', total: 5 },
    { orderId: 'o4', customer: 'carol', total: 7 },
    { orderId: 'o5', customer: 'bob', total: 1 },
  ];
}

async function seeded(db: Db, name: string): Promise<Collection> {
  const c = db.collection(name);
  if ((await c.estimatedDocumentCount()) === 0) await c.insertMany(seedOrders());
  return c;
}

async function uniqueSeeded(db: Db, name: string): Promise<Collection> {
  const c = await seeded(db, name);
  await c.createIndex({ orderId: 1 }, { unique: true });
  return c;
}

/** "ok" or the server error's code, codeName and a clipped message. */
async function outcome(
  p: Promise<unknown>,
  detail?: (e: MongoServerError) => string,
  okText = 'ok',
): Promise<string> {
  try {
    await p;
    return okText;
  } catch (e) {
    return `${codes([e])}${e instanceof MongoServerError && detail ? ` ${detail(e)}` : ''}`;
  }
}

function codes(errors: unknown[]): string {
  const seen = new Set(
    errors.map((e) =>
      e instanceof MongoServerError
        ? `${e.code} ${e.codeName ?? ''}: ${e.message.replace(/\s+/g, ' ').slice(0, 70)}`.trim()
        : String(e).slice(0, 70),
    ),
  );
  return [...seen].map((s) => `[${s}]`).join(' ');
}

function times<T>(n: number, fn: (i: number) => T): T[] {
  return Array.from({ length: n }, (_, i) => fn(i));
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function parseArgs(argv: string[]): { targets: Target[]; ops: number; ttlWait: number; repeat: number } {
  const flag = (name: string, dflt: number) => {
    const a = argv.find((x) => x.startsWith(`--${name}=`));
    const v = a ? Number(a.slice(name.length + 3)) : dflt;
    if (!Number.isFinite(v) || v < 0) throw new Error(`--${name} must be a non-negative number`);
    return v;
  };
  const targets = argv
    .filter((a) => !a.startsWith('--'))
    .map((a) => {
      const eq = a.indexOf('=');
      if (eq < 1) throw new Error(`expected label=mongodb://…, got "${a}"`);
      return { label: a.slice(0, eq), url: a.slice(eq + 1) };
    });
  if (targets.length === 0) throw new Error('usage: compare-backends.ts label=url [label=url …] [--ops=2000] [--ttl-wait=0] [--repeat=5]');
  return { targets, ops: flag('ops', 2000), ttlWait: flag('ttl-wait', 0), repeat: Math.max(1, flag('repeat', 5)) };
}

let ttlWaitSeconds = 0;

async function main(): Promise<void> {
  const { targets, ops, ttlWait, repeat } = parseArgs(process.argv.slice(2));
  ttlWaitSeconds = ttlWait;
  const dbName = `orderstream_cmp_${randomUUID().slice(0, 8)}`;
  const clients = targets.map((t) => new MongoClient(t.url, { serverSelectionTimeoutMS: 5_000 }));
  try {
    const infos = await Promise.all(clients.map(async (c) => (await c.db('admin').command({ buildInfo: 1 })) as Document));
    const rows: [string, ...string[]][] = [['', ...targets.map((t, i) => `${t.label} (${String(infos[i]?.version)})`)]];
    for (const [name, race] of Object.entries(races)) {
      const cells: string[] = [];
      for (const c of clients) {
        const runs: string[] = [];
        for (let run = 0; run < repeat; run++) runs.push(await race(c.db(dbName), run).catch((e: unknown) => `failed ${codes([e])}`));
        cells.push(runs.join(', '));
      }
      rows.push([name, ...cells]);
      console.error(`[compare] ${name}`);
    }
    for (const [name, probe] of Object.entries(probes)) {
      // Servers are probed one after the other so that the concurrent ones do not compete.
      const cells: string[] = [];
      for (const c of clients) cells.push(await probe(c.db(dbName), c).catch((e: unknown) => `probe failed ${codes([e])}`));
      rows.push([name, ...cells]);
      console.error(`[compare] ${name}`);
    }
    // Interleaved rounds, best of each: the machine is shared, so the slowest round is noise.
    const best: Record<string, number>[] = targets.map(() => ({}));
    for (let round = 0; round < 2; round++) {
      for (const [i, c] of clients.entries()) {
        const db = c.db(dbName);
        await db.collection('tput').drop().catch(() => undefined);
        for (const [k, v] of Object.entries(await throughput(db, ops))) best[i]![k] = Math.max(best[i]![k] ?? 0, v);
      }
      console.error(`[compare] throughput round ${round + 1}`);
    }
    for (const k of Object.keys(best[0] ?? {})) rows.push([`${k} (${ops} sequential, best of 2)`, ...best.map((b) => String(b[k]))]);
    printTable(rows);
  } finally {
    await Promise.all(clients.map((c) => c.db(dbName).dropDatabase().catch(() => undefined)));
    await Promise.all(clients.map((c) => c.close()));
  }
}

function printTable(rows: string[][]): void {
  for (const r of rows) console.log(`| ${r.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`);
}

await main();
