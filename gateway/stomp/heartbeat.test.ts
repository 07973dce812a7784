import test from 'ava';
import { negotiateHeartbeat, parseHeartbeat } from './heartbeat.ts';

test('parses the two numbers, tolerating spaces; absent means no heart-beats', (t) => {
  t.deepEqual(parseHeartbeat('0,100'), [0, 100]);
  t.deepEqual(parseHeartbeat(' 10000 , 5000 '), [10000, 5000]);
  t.deepEqual(parseHeartbeat(undefined), [0, 0]);
});

test('a malformed header is rejected with the value in the message', (t) => {
  for (const bad of ['', '10', '1,2,3', '-1,0', 'a,b', '1.5,2']) {
    t.throws(() => parseHeartbeat(bad), { instanceOf: RangeError, message: (m: string) => m.startsWith(`invalid heart-beat header ${JSON.stringify(bad)}:`) }, bad);
  }
});

test('negotiation: 0 on either side disables, else the larger interval wins', (t) => {
  t.is(negotiateHeartbeat(0, 100), 0);
  t.is(negotiateHeartbeat(100, 0), 0);
  t.is(negotiateHeartbeat(50, 100), 100);
  t.is(negotiateHeartbeat(10000, 100), 10000);
});
