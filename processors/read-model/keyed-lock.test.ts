import test from 'ava';
import { KeyedLock } from './keyed-lock.ts';

function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => { open = resolve; });
  return { promise, open };
}

test('work for one key runs one at a time, in order, past failures', async (t) => {
  const lock = new KeyedLock();
  const log: string[] = [];
  const first = gate();
  const a = lock.run('k', async () => { log.push('a start'); await first.promise; log.push('a end'); return 1; });
  const b = lock.run('k', async () => { log.push('b'); throw new Error('b failed'); });
  const c = lock.run('k', async () => { log.push('c'); return 3; });
  await new Promise((r) => setImmediate(r));
  t.deepEqual(log, ['a start'], 'b and c wait for a');
  first.open();
  t.is(await a, 1);
  await t.throwsAsync(b, { message: 'b failed' });
  t.is(await c, 3);
  t.deepEqual(log, ['a start', 'a end', 'b', 'c']);
  await new Promise((r) => setImmediate(r));
  t.is(lock.size, 0, 'settled keys are forgotten');
});

test('work for different keys does not wait', async (t) => {
  const lock = new KeyedLock();
  const blocked = gate();
  const slow = lock.run('order-1', () => blocked.promise.then(() => 'slow'));
  t.is(await lock.run('order-2', async () => 'fast'), 'fast');
  await new Promise((r) => setImmediate(r));
  t.is(lock.size, 1, 'only the blocked key is held');
  blocked.open();
  t.is(await slow, 'slow');
});
