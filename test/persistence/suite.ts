/**
 * One conformance suite for every persistence. Each file under test/persistence/ registers it for
 * one implementation: `open` gives a new handle on that file's store (every handle sees what
 * earlier ones wrote), so reopening is tested too. Each test works in its own collections.
 */
import test, { type ExecutionContext } from 'ava';
import { randomUUID } from 'node:crypto';
import {
  DatabaseUnavailableError, DuplicateKeyError, type Collection, type CollectionSpec, type Doc, type FindOptions, type Persistence,
} from '../../persistence/index.ts';

interface Item extends Doc {
  readonly _id: string;
  readonly group?: string;
  readonly rank?: number | null;
  readonly tags?: readonly string[];
  readonly note?: string;
}

interface Account extends Doc {
  readonly _id: string;
  readonly email: string;
  readonly name?: string;
}

interface Versioned extends Doc {
  readonly _id: string;
  readonly sequence: number;
  readonly status: string;
  readonly by?: string;
  readonly extra?: string;
}

interface Expiring extends Doc {
  readonly _id: string;
  readonly code: string;
  readonly expiresAt?: number;
}

export function persistenceConformance(name: string, open: () => Persistence): void {
  const title = (s: string) => `${name}: ${s}`;

  /** A persistence closed when the test ends, and a collection of a name no other test uses. */
  async function collection<T extends Doc>(t: ExecutionContext, spec: Omit<CollectionSpec, 'name'> = {}): Promise<{ p: Persistence; c: Collection<T>; spec: CollectionSpec }> {
    const p = open();
    t.teardown(() => p.close());
    const full = { ...spec, name: `c_${randomUUID().slice(0, 8)}` };
    return { p, c: await p.collection<T>(full), spec: full };
  }

  test.serial(title('insert, get, and a duplicate _id refused'), async (t) => {
    const { c } = await collection<Item>(t);
    await c.insert({ _id: 'a', group: 'g', rank: 1, tags: ['x'] });
    t.deepEqual(await c.get('a'), { _id: 'a', group: 'g', rank: 1, tags: ['x'] });
    t.is(await c.get('missing'), undefined);
    const err = await t.throwsAsync(c.insert({ _id: 'a', group: 'other' }));
    t.true(err instanceof DuplicateKeyError, String(err));
    t.false((err as DuplicateKeyError).retriable);
    t.regex(err!.message, /_id/);
    t.deepEqual(await c.get('a'), { _id: 'a', group: 'g', rank: 1, tags: ['x'] }, 'the refused insert changed nothing');
    t.deepEqual(await c.findOne({ group: 'g' }), { _id: 'a', group: 'g', rank: 1, tags: ['x'] });
    t.is(await c.findOne({ group: 'none' }), undefined);
    // Undefined fields are not stored (the same shape on both implementations).
    await c.insert({ _id: 'b', group: undefined, rank: 2 });
    t.deepEqual(await c.get('b'), { _id: 'b', rank: 2 });
  });

  test.serial(title('a unique index holds across documents, on insert, update and replace'), async (t) => {
    const { c } = await collection<Account>(t, { indexes: [{ fields: ['email'], unique: true }] });
    await c.insert({ _id: 'u1', email: 'ann@example.com' });
    await c.insert({ _id: 'u2', email: 'bob@example.com' });
    for (const attempt of [
      c.insert({ _id: 'u3', email: 'ann@example.com' }),
      c.update('u2', { email: 'ann@example.com' }),
      c.replace({ _id: 'u2', email: 'ann@example.com' }),
      c.replace({ _id: 'u4', email: 'ann@example.com' }),
    ]) {
      const err = await t.throwsAsync(attempt);
      t.true(err instanceof DuplicateKeyError, String(err));
    }
    t.is(await c.get('u3'), undefined);
    t.is(await c.get('u4'), undefined);
    t.deepEqual(await c.get('u2'), { _id: 'u2', email: 'bob@example.com' });
    // The holder itself may keep or change its value, and a freed value can be taken.
    t.true(await c.update('u1', { email: 'ann@example.com', name: 'Ann' }));
    t.true(await c.update('u1', { email: 'ann@example.org' }));
    await c.insert({ _id: 'u5', email: 'ann@example.com' });
    t.is(await c.count({ email: 'ann@example.com' }), 1);
  });

  test.serial(title('of concurrent inserts of one unique value exactly one wins'), async (t) => {
    const { c } = await collection<Account>(t, { indexes: [{ fields: ['email'], unique: true }] });
    for (let round = 0; round < 5; round++) {
      const email = `race-${round}@example.com`;
      const outcomes = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => c.insert({ _id: `r${round}-${i}`, email })));
      const won = outcomes.filter((o) => o.status === 'fulfilled');
      const lost = outcomes.flatMap((o) => (o.status === 'rejected' ? [o.reason as unknown] : []));
      t.is(won.length, 1, `round ${round}: winners`);
      t.true(lost.every((e) => e instanceof DuplicateKeyError), `round ${round}: ${lost.map(String).join('; ')}`);
      t.is(await c.count({ email }), 1);
    }
  });

  test.serial(title('find: equality, array elements, $in, $ne, $lt/$lte/$gt/$gte, $exists'), async (t) => {
    const { c } = await collection<Item>(t, { indexes: [{ fields: ['group', 'rank'] }, { fields: ['tags'] }] });
    const docs: Item[] = [
      { _id: 'd1', group: 'a', rank: 1, tags: ['red', 'blue'] },
      { _id: 'd2', group: 'a', rank: 5, tags: ['blue'] },
      { _id: 'd3', group: 'b', rank: 10, tags: [] },
      { _id: 'd4', group: 'b', rank: null, note: 'n' },
      { _id: 'd5', rank: 7, tags: ['green'] },
    ];
    for (const d of docs) await c.insert(d);
    const ids = async (filter: Parameters<typeof c.find>[0]) => (await c.find(filter)).map((d) => d._id);
    t.deepEqual(await ids({}), ['d1', 'd2', 'd3', 'd4', 'd5'], 'no filter, in _id order');
    t.deepEqual(await ids({ group: 'a' }), ['d1', 'd2']);
    t.deepEqual(await ids({ group: 'a', rank: 5 }), ['d2']);
    t.deepEqual(await ids({ tags: 'blue' }), ['d1', 'd2'], 'an array matches by any element');
    t.deepEqual(await ids({ tags: ['blue'] }), ['d2'], 'or as a whole');
    t.deepEqual(await ids({ tags: { $in: ['green', 'red'] } }), ['d1', 'd5']);
    t.deepEqual(await ids({ group: { $in: ['b', 'z'] } }), ['d3', 'd4']);
    t.deepEqual(await ids({ tags: { $ne: 'blue' } }), ['d3', 'd4', 'd5'], '$ne: no element equals (a missing field included)');
    t.deepEqual(await ids({ group: { $ne: 'a' } }), ['d3', 'd4', 'd5']);
    t.deepEqual(await ids({ rank: { $lt: 5 } }), ['d1'], 'ranges compare numbers with numbers only');
    t.deepEqual(await ids({ rank: { $lte: 5 } }), ['d1', 'd2']);
    t.deepEqual(await ids({ rank: { $gt: 5 } }), ['d3', 'd5']);
    t.deepEqual(await ids({ rank: { $gte: 5, $lt: 10 } }), ['d2', 'd5'], 'two operators on one field');
    t.deepEqual(await ids({ group: 'b', rank: { $gte: 0 } }), ['d3']);
    t.deepEqual(await ids({ note: { $exists: true } }), ['d4']);
    t.deepEqual(await ids({ group: { $exists: false } }), ['d5']);
    t.deepEqual(await ids({ rank: null }), ['d4'], 'null matches null');
    t.deepEqual(await ids({ _id: 'd3' }), ['d3']);
    t.deepEqual(await ids({ _id: { $in: ['d5', 'd1', 'nope'] } }), ['d1', 'd5']);
    t.deepEqual(await ids({ group: 'a', tags: 'red', rank: { $gt: 0 } }), ['d1']);
    t.deepEqual(await ids({ group: 'c' }), []);
  });

  test.serial(title('sort both ways with an _id tie-break; cursor pages visit every document once'), async (t) => {
    const { c } = await collection<Item>(t, { indexes: [{ fields: ['group', 'rank'] }] });
    // Few distinct ranks, so equal values straddle page boundaries; some documents lack a rank.
    const docs: Item[] = Array.from({ length: 30 }, (_, i) => ({
      _id: `i${String((i * 7) % 30).padStart(2, '0')}`,
      group: i % 3 === 0 ? 'x' : 'y',
      ...(i % 10 === 9 ? {} : { rank: i % 4 }),
    }));
    for (const d of docs) await c.insert(d);
    for (const group of [undefined, 'y']) {
      const filter = group === undefined ? {} : { group };
      const selected = docs.filter((d) => group === undefined || d.group === group);
      for (const direction of ['asc', 'desc'] as const) {
        const expected = [...selected].sort((a, b) => {
          const ra = a.rank ?? -Infinity;
          const rb = b.rank ?? -Infinity;
          const c0 = ra === rb ? (a._id < b._id ? -1 : 1) : ra - rb;
          return direction === 'asc' ? c0 : -c0;
        }).map((d) => d._id);
        const sort = { field: 'rank', direction } as const;
        t.deepEqual((await c.find(filter, { sort })).map((d) => d._id), expected, `${group ?? 'all'} ${direction}: one query`);
        for (const limit of [1, 4, 7]) {
          const seen: string[] = [];
          let after: FindOptions['after'];
          for (let pages = 0; pages <= expected.length; pages++) {
            const page = await c.find(filter, { sort, limit, ...(after ? { after } : {}) });
            t.true(page.length <= limit);
            if (page.length === 0) break;
            seen.push(...page.map((d) => d._id));
            const last = page.at(-1)!;
            after = { value: last.rank ?? null, id: last._id };
          }
          t.deepEqual(seen, expected, `${group ?? 'all'} ${direction} in pages of ${limit}`);
        }
      }
    }
    // Sorting by _id, with a cursor.
    const byId = docs.map((d) => d._id).sort();
    t.deepEqual((await c.find({}, { sort: { field: '_id', direction: 'desc' }, limit: 3 })).map((d) => d._id), byId.slice(-3).reverse());
    t.deepEqual((await c.find({}, { sort: { field: '_id', direction: 'asc' }, limit: 2, after: { value: byId[4]!, id: byId[4]! } })).map((d) => d._id), byId.slice(5, 7));
    t.deepEqual(await c.find({}, { limit: 0 }), []);
  });

  test.serial(title('count'), async (t) => {
    const { c } = await collection<Item>(t, { indexes: [{ fields: ['group'] }] });
    for (let i = 0; i < 12; i++) await c.insert({ _id: `n${i}`, group: i % 3 === 0 ? 'a' : 'b', rank: i });
    t.is(await c.count({}), 12);
    t.is(await c.count({ group: 'a' }), 4);
    t.is(await c.count({ group: 'b', rank: { $gte: 6 } }), 4);
    t.is(await c.count({ group: 'none' }), 0);
  });

  test.serial(title('replace as a version check: absent created, older skipped, newer written'), async (t) => {
    const { c } = await collection<Versioned>(t);
    const write = (doc: Versioned) => c.replace(doc, { sequence: { $lt: doc.sequence } });
    t.is(await write({ _id: 'o1', sequence: 2, status: 'PAID', extra: 'x' }), 'written');
    t.deepEqual(await c.get('o1'), { _id: 'o1', sequence: 2, status: 'PAID', extra: 'x' });
    t.is(await write({ _id: 'o1', sequence: 1, status: 'PLACED' }), 'skipped', 'older');
    t.is(await write({ _id: 'o1', sequence: 2, status: 'PAID-AGAIN' }), 'skipped', 'the same');
    t.deepEqual(await c.get('o1'), { _id: 'o1', sequence: 2, status: 'PAID', extra: 'x' });
    t.is(await write({ _id: 'o1', sequence: 3, status: 'SHIPPED' }), 'written', 'newer');
    t.deepEqual(await c.get('o1'), { _id: 'o1', sequence: 3, status: 'SHIPPED' }, 'the whole document was replaced');
    t.is(await c.replace({ _id: 'o1', sequence: 0, status: 'RESET' }), 'written', 'without a condition');
    t.deepEqual(await c.get('o1'), { _id: 'o1', sequence: 0, status: 'RESET' });
    // Out-of-order delivery of many versions of several documents ends at the highest of each.
    const ids = ['p1', 'p2', 'p3'];
    const versions = ids.flatMap((id) => [5, 1, 4, 2, 3].map((sequence) => ({ _id: id, sequence, status: `s${sequence}` })));
    for (const v of versions) await write(v);
    for (const id of ids) t.deepEqual(await c.get(id), { _id: id, sequence: 5, status: 's5' });
  });

  test.serial(title('update is a compare-and-set: of two concurrent from one state only one succeeds'), async (t) => {
    const { c } = await collection<Versioned>(t);
    t.false(await c.update('absent', { status: 'X' }), 'no document, no update');
    await c.insert({ _id: 'v', sequence: 1, status: 'OPEN', extra: 'e' });
    t.false(await c.update('v', { status: 'X' }, { sequence: 2 }), 'condition fails');
    t.deepEqual(await c.get('v'), { _id: 'v', sequence: 1, status: 'OPEN', extra: 'e' });
    t.true(await c.update('v', { sequence: 2, status: 'PAID' }, { sequence: 1 }));
    t.deepEqual(await c.get('v'), { _id: 'v', sequence: 2, status: 'PAID', extra: 'e' }, 'other fields kept');
    t.true(await c.update('v', { extra: undefined }), 'a field set to undefined is removed');
    t.deepEqual(await c.get('v'), { _id: 'v', sequence: 2, status: 'PAID' });
    t.true(await c.update('v', {}), 'an empty change of an existing document');
    for (let round = 0; round < 10; round++) {
      const from = 2 + round;
      const outcomes = await Promise.all(['a', 'b', 'c'].map((by) => c.update('v', { sequence: from + 1, by }, { sequence: from })));
      t.is(outcomes.filter(Boolean).length, 1, `round ${round}: ${outcomes.join(',')}`);
      const now = await c.get('v');
      t.is(now?.sequence, from + 1);
      t.is(now?.by, ['a', 'b', 'c'][outcomes.indexOf(true)], 'the winner\'s write is the one stored');
    }
  });

  test.serial(title('delete and deleteMany'), async (t) => {
    const { c } = await collection<Item>(t, { indexes: [{ fields: ['group'] }] });
    for (let i = 0; i < 6; i++) await c.insert({ _id: `x${i}`, group: i < 4 ? 'a' : 'b', rank: i });
    t.true(await c.delete('x0'));
    t.false(await c.delete('x0'));
    t.is(await c.get('x0'), undefined);
    t.is(await c.deleteMany({ group: 'a', rank: { $gte: 2 } }), 2);
    t.deepEqual((await c.find({})).map((d) => d._id), ['x1', 'x4', 'x5']);
    t.is(await c.deleteMany({ group: 'none' }), 0);
    t.is(await c.deleteMany({}), 3);
    t.is(await c.count({}), 0);
    // The index forgot them too: the ids and values can come back.
    await c.insert({ _id: 'x1', group: 'a' });
    t.deepEqual((await c.find({ group: 'a' })).map((d) => d._id), ['x1']);
  });

  test.serial(title('an expired document is absent at once; sweepExpired removes it'), async (t) => {
    const { c } = await collection<Expiring>(t, { expiresAtField: 'expiresAt', indexes: [{ fields: ['code'], unique: true }] });
    const now = Date.now();
    const hour = 3_600_000;
    await c.insert({ _id: 'old', code: 'c-old', expiresAt: now - 1_000 });
    await c.insert({ _id: 'old2', code: 'c-old2', expiresAt: now - 2_000 });
    await c.insert({ _id: 'held', code: 'c-held', expiresAt: now - 1_000 });
    await c.insert({ _id: 'live', code: 'c-live', expiresAt: now + hour });
    await c.insert({ _id: 'forever', code: 'c-forever' });
    t.is(await c.get('old'), undefined);
    t.deepEqual(await c.get('live'), { _id: 'live', code: 'c-live', expiresAt: now + hour });
    t.deepEqual((await c.find({})).map((d) => d._id), ['forever', 'live']);
    t.is(await c.count({}), 2);
    t.is(await c.findOne({ code: 'c-old' }), undefined);
    t.false(await c.update('old', { code: 'c-x' }), 'an expired document is not updated');
    t.false(await c.delete('old2'), 'nor deleted (it was gone already)');
    // Its _id and unique values are free again.
    await c.insert({ _id: 'old', code: 'c-new', expiresAt: now + hour });
    t.deepEqual(await c.get('old'), { _id: 'old', code: 'c-new', expiresAt: now + hour });
    await c.insert({ _id: 'other', code: 'c-held' });
    await c.insert({ _id: 'gone', code: 'c-gone', expiresAt: now - 1_000 });
    t.is(await c.replace({ _id: 'gone', code: 'c-gone', expiresAt: now + hour }, { code: 'never' }), 'written', 'an expired document is replaced as absent');
    await c.insert({ _id: 'swept', code: 'c-swept', expiresAt: now - 1_000 });
    t.is(await c.sweepExpired(), 1);
    t.is(await c.sweepExpired(), 0);
    // Sweeping as of a later time removes what will have expired by then, and only that.
    t.is(await c.sweepExpired(now + 2 * hour), 3);
    t.is(await c.get('live'), undefined);
    t.deepEqual((await c.find({})).map((d) => d._id), ['forever', 'other']);
    // Expiry can be set and cleared by update.
    t.true(await c.update('forever', { expiresAt: now - 1 }));
    t.is(await c.get('forever'), undefined);
    t.true(await c.update('other', { expiresAt: now + hour }));
    t.true(await c.update('other', { expiresAt: undefined }));
    t.is(await c.sweepExpired(now + 2 * hour), 1);
    t.deepEqual(await c.get('other'), { _id: 'other', code: 'c-held' });
  });

  test.serial(title('a new handle on the same store sees the data; a closed one is unavailable'), async (t) => {
    const first = open();
    const spec = { name: `c_${randomUUID().slice(0, 8)}`, indexes: [{ fields: ['email'], unique: true }] };
    const c1 = await first.collection<Account>(spec);
    await c1.insert({ _id: 'k', email: 'kept@example.com' });
    await first.close();
    const err = await t.throwsAsync(first.ping());
    t.true(err instanceof DatabaseUnavailableError, String(err));
    t.true((err as DatabaseUnavailableError).retriable);
    await t.throwsAsync(c1.get('k'), { instanceOf: DatabaseUnavailableError });
    const second = open();
    t.teardown(() => second.close());
    const c2 = await second.collection<Account>(spec);
    t.deepEqual(await c2.get('k'), { _id: 'k', email: 'kept@example.com' });
    await t.throwsAsync(c2.insert({ _id: 'k2', email: 'kept@example.com' }), { instanceOf: DuplicateKeyError }, 'the unique index too');
  });

  test.serial(title('ping answers; one collection opened twice is one collection'), async (t) => {
    const { p, c, spec } = await collection<Item>(t, { indexes: [{ fields: ['group'] }] });
    await p.ping();
    const again = await p.collection<Item>({ ...spec, indexes: [{ fields: ['group'] }, { fields: ['rank'] }] });
    await c.insert({ _id: 'one', group: 'g', rank: 3 });
    t.deepEqual(await again.findOne({ rank: 3 }), { _id: 'one', group: 'g', rank: 3 });
    t.is(again.name, spec.name);
  });
}
