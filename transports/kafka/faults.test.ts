import test from 'ava';
import kafkajs from 'kafkajs';
import { KafkaTransport } from './index.ts';
import { classifyKafkaError } from './faults.ts';

// CommonJS: the error classes are properties of the default export, not ESM named exports.
const { KafkaJSConnectionError, KafkaJSGroupCoordinatorNotFound, KafkaJSNonRetriableError, KafkaJSNumberOfRetriesExceeded, KafkaJSProtocolError } = kafkajs;
/** As KafkaJS's retrier gives up: the error it wraps is its cause (the typings miss the option). */
const nonRetriable = (e: Error): Error => new (KafkaJSNonRetriableError as unknown as new (e: Error, o: { cause: Error }) => Error)(e, { cause: e });
const protocol = (type: string, retriable = true) => new KafkaJSProtocolError({ message: type, type, code: 1, retriable } as never);

test('a refused connection is an outage however deep KafkaJS wrapped it', (t) => {
  const refused = new KafkaJSConnectionError('Connection error: connect ECONNREFUSED 127.0.0.1:9092');
  t.is(classifyKafkaError(refused), 'connection');
  t.is(classifyKafkaError(nonRetriable(refused)), 'connection');
  t.is(classifyKafkaError(new KafkaJSNumberOfRetriesExceeded(refused, { retryCount: 5, retryTime: 2000 })), 'connection');
  t.is(classifyKafkaError(new Error('Connection error: connect ECONNREFUSED 127.0.0.1:9092')), 'connection');
});

test('coordinator and leader moves are retriable, a fenced producer and a bad request are not', (t) => {
  t.is(classifyKafkaError(protocol('NOT_COORDINATOR')), 'retriable');
  t.is(classifyKafkaError(nonRetriable(protocol('COORDINATOR_LOAD_IN_PROGRESS'))), 'retriable');
  // After a broker restart KafkaJS gives up finding the group coordinator with a non-retriable
  // error of its own; the consumer crashed with it and the process exited (regression).
  t.is(classifyKafkaError(new (KafkaJSGroupCoordinatorNotFound as unknown as new (m: string) => Error)('Failed to find group coordinator')), 'retriable');
  t.is(classifyKafkaError(protocol('INVALID_PRODUCER_EPOCH', false)), 'fenced');
  t.is(classifyKafkaError(protocol('INVALID_RECORD', false)), 'other');
  t.is(classifyKafkaError(new TypeError('x is undefined')), 'other');
});

test('wrap maps an outage to a retriable BrokerUnreachableError and keeps the rest non-retriable', (t) => {
  const transport = new KafkaTransport({ brokers: ['127.0.0.1:1'] });
  const refused = new KafkaJSConnectionError('Connection error: connect ECONNREFUSED 127.0.0.1:1');
  const outage = transport.wrap(nonRetriable(refused), 'transaction aborted');
  t.is(outage.name, 'BrokerUnreachableError');
  t.true(outage.retriable);
  t.true(transport.wrap(protocol('NOT_COORDINATOR'), 'x').retriable);
  t.false(transport.wrap(protocol('INVALID_PRODUCER_EPOCH', false), 'x').retriable);
  t.false(transport.wrap(new TypeError('bug'), 'x').retriable);
});
