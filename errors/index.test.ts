import test from 'ava';
import { OrderstreamError, retriableCause } from './index.ts';
import { CommitFailure, StreamsError } from '../processors/engine/errors.ts';
import { DeserializationError, RecordValidationError, SchemaRegistryError } from '../schemas/errors.ts';
import { BrokerUnreachableError, TransportError } from '../transports/errors.ts';

test('transport, engine and contract errors share one root that says whether a retry can help', (t) => {
  const unreachable = new BrokerUnreachableError('127.0.0.1:1', { transport: 'kafka' });
  const commit = new CommitFailure('commit failed', {}, { cause: unreachable });
  const unavailable = new DeserializationError({ reason: 'registry-unavailable', topic: 't', detail: 'ECONNREFUSED' });
  const unknown = new DeserializationError({ reason: 'unknown-schema-id', topic: 't', schemaId: 7, detail: 'no such id' });
  for (const e of [unreachable, commit, unavailable, unknown, new SchemaRegistryError('incompatible', 's', 'no'), new RecordValidationError('R', [])]) {
    t.true(e instanceof OrderstreamError, e.name);
  }
  t.true(unreachable instanceof TransportError && unreachable.retriable);
  t.true(commit instanceof StreamsError && commit.retriable, 'a commit failure is retriable when its cause is');
  t.true(unavailable.retriable);
  t.false(unknown.retriable);
  t.is(commit.name, 'CommitFailure');
  t.is(commit.cause, unreachable);
});

test('a registry that cannot be reached is retriable; a schema it refused is not', (t) => {
  t.true(new SchemaRegistryError('unavailable', 's', 'ECONNREFUSED').retriable);
  t.false(new SchemaRegistryError('incompatible', 's', '409').retriable);
  t.false(new SchemaRegistryError('not-registered', 's', 'auto-registration off').retriable);
});

test('retriableCause finds the retriable error however deep, and a final verdict ends the search', (t) => {
  const away = new BrokerUnreachableError('127.0.0.1:1', { transport: 'kafka' });
  const wrapped = new Error('outer', { cause: new Error('middle', { cause: away }) });
  t.is(retriableCause(wrapped), away);
  t.is(retriableCause(new Error('plain')), undefined);
  t.is(retriableCause(wrapped, (c) => (c as Error).message === 'middle'), undefined);
  t.is(retriableCause({ retriable: true, message: 'not an Error' })?.message, 'not an Error');
});
