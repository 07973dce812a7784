import test from 'ava';
import { ApiError } from '../errors.ts';
import { LoginLimiter } from './limiter.ts';

const limits = { perAccount: 3, perAddress: 5, windowSeconds: 60 };

test('failures per account: the limit blocks that account, from any address, with Retry-After', async (t) => {
  const l = new LoginLimiter(limits);
  for (let i = 0; i < 3; i++) { await l.admit('a@x.io', `10.0.0.${i}`); await l.failed('A@x.io', `10.0.0.${i}`); }
  const e = await t.throwsAsync(l.admit('a@x.io', '10.9.9.9'), { instanceOf: ApiError });
  t.is(e.status, 429);
  t.true(e.retryAfterSeconds! >= 1 && e.retryAfterSeconds! <= 60);
  await t.notThrowsAsync(l.admit('b@x.io', '10.9.9.9'), 'other accounts are not affected');
});

test('failures per address: a spray over many accounts from one address is blocked; successes never count', async (t) => {
  const l = new LoginLimiter(limits);
  for (let i = 0; i < 50; i++) { await l.admit(`ok${i}@x.io`, '10.1.1.1'); await l.succeeded(`ok${i}@x.io`); }
  for (let i = 0; i < 5; i++) { await l.admit(`u${i}@x.io`, '10.1.1.1'); await l.failed(`u${i}@x.io`, '10.1.1.1'); }
  const e = await t.throwsAsync(l.admit('fresh@x.io', '10.1.1.1'), { instanceOf: ApiError });
  t.is(e.status, 429);
  await t.notThrowsAsync(l.admit('fresh@x.io', '10.2.2.2'));
});

test('a success clears the account\'s failures', async (t) => {
  const l = new LoginLimiter(limits);
  for (let i = 0; i < 2; i++) await l.failed('c@x.io', '10.0.0.1');
  await l.succeeded('c@x.io');
  for (let i = 0; i < 2; i++) await l.failed('c@x.io', '10.0.0.2');
  await t.notThrowsAsync(l.admit('c@x.io', '10.0.0.3'));
});
