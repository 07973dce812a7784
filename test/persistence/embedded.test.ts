import test from 'ava';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuplicateKeyError, embeddedPersistence } from '../../persistence/index.ts';
import { persistenceConformance } from './suite.ts';

// One directory for the file: every handle the suite opens is on the same store.
const dir = mkdtempSync(join(tmpdir(), 'orderstream-embedded-test-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

persistenceConformance('embedded', () => embeddedPersistence({ path: dir }));

test.serial('embedded: without a path, a temporary directory removed on close', async (t) => {
  const p = embeddedPersistence({});
  const c = await p.collection<{ _id: string; n: number }>({ name: 'tmp' });
  await c.insert({ _id: 'a', n: 1 });
  t.deepEqual(await c.get('a'), { _id: 'a', n: 1 });
  t.true(p.path.startsWith(tmpdir()) && existsSync(p.path), p.path);
  await p.close();
  t.false(existsSync(p.path), 'its directory is gone');
  // A second temporary store starts empty.
  const q = embeddedPersistence({});
  t.teardown(() => q.close());
  t.not(q.path, p.path);
  t.is(await (await q.collection<{ _id: string; n: number }>({ name: 'tmp' })).get('a'), undefined);
});

test.serial('embedded: an index declared later is built over the existing documents, and one dropped is forgotten', async (t) => {
  const path = join(dir, 'evolve');
  const name = 'people';
  const first = embeddedPersistence({ path });
  const c1 = await first.collection<{ _id: string; email: string; team: string }>({ name });
  await c1.insert({ _id: 'p1', email: 'a@example.com', team: 't1' });
  await c1.insert({ _id: 'p2', email: 'b@example.com', team: 't1' });
  await c1.insert({ _id: 'p3', email: 'b@example.com', team: 't2' });
  await first.close();

  const second = embeddedPersistence({ path });
  const dup = await t.throwsAsync(second.collection({ name, indexes: [{ fields: ['email'], unique: true }] }));
  t.true(dup instanceof DuplicateKeyError, `a unique index over duplicates is refused: ${String(dup)}`);
  const c2 = await second.collection<{ _id: string; email: string; team: string }>({ name, indexes: [{ fields: ['team', 'email'], unique: true }] });
  await t.throwsAsync(c2.insert({ _id: 'p4', email: 'a@example.com', team: 't1' }), { instanceOf: DuplicateKeyError });
  t.deepEqual((await c2.find({ team: 't1' }, { sort: { field: 'email', direction: 'desc' } })).map((d) => d._id), ['p2', 'p1']);
  await second.close();

  // Declared without the index: dropped; a document it would refuse goes in; declared again: rebuilt.
  const third = embeddedPersistence({ path });
  const c3 = await third.collection<{ _id: string; email: string; team: string }>({ name });
  await c3.insert({ _id: 'p4', email: 'a@example.com', team: 't1' });
  await third.close();
  const fourth = embeddedPersistence({ path });
  t.teardown(() => fourth.close());
  await t.throwsAsync(fourth.collection({ name, indexes: [{ fields: ['team', 'email'], unique: true }] }), { instanceOf: DuplicateKeyError });
  const c4 = await fourth.collection<{ _id: string; email: string; team: string }>({ name, indexes: [{ fields: ['team'] }] });
  t.deepEqual((await c4.find({ team: 't1' })).map((d) => d._id), ['p1', 'p2', 'p4']);
});
