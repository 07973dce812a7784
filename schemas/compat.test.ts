/** The evolution rules and their explanations, without a registry. */
import test from 'ava';
import { checkEvolution, type CompatibilityLevel } from './compat.ts';
import { TOPICS, schemaText, type TopicName } from './topics.ts';

interface Schema {
  fields: { name: string; type: unknown; default?: unknown; doc?: string }[];
  [k: string]: unknown;
}

const current = (topic: TopicName): Schema => JSON.parse(schemaText(TOPICS[topic].record)) as Schema;
const v1 = (schema: Schema) => [{ version: 1, schema: JSON.stringify(schema) }];

function check(old: Schema, next: Schema, level: CompatibilityLevel = 'FULL_TRANSITIVE'): string[] {
  return checkEvolution(JSON.stringify(next), v1(old), level).map((b) => `${b.direction}: ${b.message}`);
}

function edit(topic: TopicName, change: (s: Schema) => void): [Schema, Schema] {
  const old = current(topic);
  const next = current(topic);
  change(next);
  return [old, next];
}

test('adding an optional field with a default is compatible both ways', (t) => {
  const [old, next] = edit('stock-response-topic', (s) => {
    s.fields.push({ name: 'warehouse', type: ['null', 'string'], default: null, doc: 'Where it ships from.' });
  });
  t.deepEqual(check(old, next), []);
});

test('removing a field without a default breaks old consumers, and says which field', (t) => {
  const [old, next] = edit('stock-response-topic', (s) => {
    s.fields = s.fields.filter((f) => f.name !== 'message');
  });
  t.deepEqual(check(old, next), ["forward: removed field 'message' has no default; old consumers cannot read new records"]);
  // Plain BACKWARD allows it: a new reader ignores what it does not know.
  t.deepEqual(check(old, next, 'BACKWARD_TRANSITIVE'), []);
});

test('changing a field type inside an array names the path and both types', (t) => {
  const [old, next] = edit('order-created', (s) => {
    const items = (s.fields[1]?.type as { items: Schema }).items;
    const quantity = items.fields[1];
    if (quantity) quantity.type = 'string';
  });
  t.deepEqual(check(old, next), [
    'backward: field products[].quantity changed type int → string; old records cannot be read',
    'forward: field products[].quantity changed type int → string; old consumers cannot read new records',
  ]);
});

test('renaming an enum symbol names the enum, the field and the symbol', (t) => {
  const [old, next] = edit('payment-success-topic', (s) => {
    (s.fields[3]?.type as { symbols: string[] }).symbols = ['SUCCEEDED', 'FAILED'];
  });
  t.deepEqual(check(old, next), [
    'backward: field status: enum PaymentStatus symbol SUCCESS removed/renamed (and the enum has no default); old records cannot be read',
    'forward: field status: enum PaymentStatus symbol SUCCEEDED added (and the old enum has no default); old consumers cannot read new records',
  ]);
});

test('adding a required field breaks reading old records', (t) => {
  const [old, next] = edit('delivery-start-topic', (s) => {
    s.fields.push({ name: 'carrier', type: 'string', doc: 'Courier.' });
  });
  t.deepEqual(check(old, next, 'BACKWARD'), ["backward: added field 'carrier' has no default; old records cannot be read"]);
});

test('an optional field made required, and a widened int', (t) => {
  const [old, next] = edit('users-topic', (s) => {
    const phone = s.fields.find((f) => f.name === 'phone');
    if (phone) {
      phone.type = 'string';
      delete phone.default;
    }
  });
  t.deepEqual(check(old, next, 'BACKWARD'), [
    'backward: field phone no longer accepts null (changed type null or string → string); old records cannot be read',
  ]);
  const [o2, n2] = edit('payment-success-topic', (s) => {
    const amount = s.fields.find((f) => f.name === 'amount');
    if (amount) amount.type = 'long';
  });
  // int → long is a promotion for new readers, but old readers cannot read a long as an int.
  t.deepEqual(check(o2, n2, 'BACKWARD'), []);
  t.deepEqual(check(o2, n2, 'FORWARD'), ['forward: field amount changed type int → long; old consumers cannot read new records']);
});

test('transitive levels check every version, plain ones only the latest', (t) => {
  const base = current('chat-topic');
  const v2 = current('chat-topic');
  v2.fields.push({ name: 'edited', type: 'boolean', default: false, doc: 'Edited since sent.' });
  const v3 = current('chat-topic');
  v3.fields.push({ name: 'edited', type: 'boolean', doc: 'Edited since sent.' });
  const versions = [
    { version: 1, schema: JSON.stringify(base) },
    { version: 2, schema: JSON.stringify(v2) },
  ];
  // v3 drops the default of v2's field: new readers cannot read v1 records (no field to fill it from).
  t.deepEqual(checkEvolution(JSON.stringify(v3), versions, 'BACKWARD').map((b) => b.version), []);
  t.deepEqual(checkEvolution(JSON.stringify(v3), versions, 'BACKWARD_TRANSITIVE').map((b) => [b.version, b.message]), [
    [1, "added field 'edited' has no default; old records cannot be read"],
  ]);
  t.deepEqual(checkEvolution(JSON.stringify(v3), versions, 'NONE'), []);
});
