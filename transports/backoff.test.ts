import test from 'ava';
import { backoffDelay, Backoff } from './backoff.ts';

test('the wait doubles from the initial delay up to the bound', (t) => {
  const mid = () => 0.5; // no jitter: 2·0.5 − 1 = 0
  const waits = [1, 2, 3, 4, 5, 6, 7].map((a) => backoffDelay(a, { initialDelayMs: 100, maxDelayMs: 1000 }, mid));
  t.deepEqual(waits, [100, 200, 400, 800, 1000, 1000, 1000]);
});

test('jitter spreads each wait within ±jitter of its nominal value', (t) => {
  t.is(backoffDelay(3, { initialDelayMs: 100, jitter: 0.2 }, () => 0), 320);
  t.is(backoffDelay(3, { initialDelayMs: 100, jitter: 0.2 }, () => 1), 480);
});

test('an outage is exhausted after maxElapsedMs', async (t) => {
  const b = new Backoff({ maxElapsedMs: 30 });
  t.false(b.exhausted());
  b.next();
  t.is(b.attempts, 1);
  await new Promise((r) => setTimeout(r, 40));
  t.true(b.exhausted());
});
