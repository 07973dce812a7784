import test from 'ava';
import { plainRecordSize } from '../../../transports/util.ts';
import { RecordTooLargeFailure } from '../errors.ts';
import { DeadLetterHeaders, oversizedDeadLetter } from './error-handling.ts';

const failure = new RecordTooLargeFailure('output of 5000 bytes is over the limit of 1000 bytes of topic out', 5000, 1000);
const output = { topic: 'out', key: Buffer.alloc(600, 1), value: Buffer.alloc(5000, 2), headers: { trace: Buffer.alloc(600, 3) }, timestamp: 42 };
const origin = { topic: 'in', partition: 3, offset: 17 };
const make = (limit: number) => oversizedDeadLetter('app-dlq', failure, output, origin, '0_3', limit, plainRecordSize);

test('a dead-letter topic that takes the whole output gets it whole, with reason, source and target', (t) => {
  const d = make(100_000);
  t.is(d.topic, 'app-dlq');
  t.is(d.partition, 0);
  t.is(d.value, output.value);
  t.is(d.key, output.key);
  t.is(d.timestamp, 42);
  t.deepEqual(d.headers?.trace, output.headers.trace);
  t.is(d.headers?.[DeadLetterHeaders.stage], 'produce');
  t.is(d.headers?.[DeadLetterHeaders.reason], failure.message);
  t.is(d.headers?.[DeadLetterHeaders.target], 'out');
  t.is(d.headers?.[DeadLetterHeaders.offset], '17');
  t.is(d.headers?.[DeadLetterHeaders.partition], '3');
});

test('under the same limit the value goes first, then the key and the output\'s headers; the dead letter always fits', (t) => {
  const keyOnly = make(2000);
  t.is(keyOnly.value, null);
  t.is(keyOnly.key, output.key);
  t.true(plainRecordSize(keyOnly) <= 2000);
  const bare = make(1000);
  t.is(bare.value, null);
  t.is(bare.key, null);
  t.is(bare.headers?.trace, undefined);
  t.is(bare.headers?.[DeadLetterHeaders.topic], 'in');
  t.true(plainRecordSize(bare) <= 1000);
});
