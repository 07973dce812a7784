/**
 * The generated types match the .avsc files, and the .avsc files follow the house rules:
 * namespaced records, a doc on every record, enum and field, uuids as logical types.
 */
import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateTypes, schemaFiles, staleness, SCHEMA_DIR } from './codegen.ts';
import { INTERNAL_RECORDS, TOPICS, topicNames, schemaText } from './topics.ts';

test('schemas/generated is what npm run schemas:types makes of the .avsc files', (t) => {
  const s = staleness(generateTypes());
  t.deepEqual(s, { missing: [], changed: [], extra: [] }, 'run npm run schemas:types and commit schemas/generated');
});

test('the staleness check notices a changed schema', (t) => {
  const generated = generateTypes();
  const [file, text] = [...generated][0] ?? ['', ''];
  generated.set(file, `${text}// drift\n`);
  t.deepEqual(staleness(generated).changed, [file]);
});

test('every topic maps to a schema file, and every schema file is used by a topic or listed as internal', (t) => {
  const used = new Set([...topicNames().map((topic) => TOPICS[topic].record), ...INTERNAL_RECORDS].map((record) => `${record}.avsc`));
  t.deepEqual([...used].sort(), schemaFiles());
  for (const topic of topicNames()) t.notThrows(() => schemaText(TOPICS[topic].record), topic);
});

interface Node {
  type?: unknown;
  name?: string;
  namespace?: string;
  doc?: string;
  fields?: { name: string; type: unknown; doc?: string }[];
  items?: unknown;
  values?: unknown;
}

/** Named types without doc, fields without doc, and field names that say Id but are not uuids. */
function lint(node: unknown, where: string, out: string[]): void {
  if (Array.isArray(node)) return node.forEach((n) => lint(n, where, out));
  if (typeof node !== 'object' || node === null) return;
  const n = node as Node;
  if ((n.type === 'record' || n.type === 'enum') && !n.doc) out.push(`${where}: ${n.type} ${n.name ?? '?'} has no doc`);
  for (const f of n.fields ?? []) {
    const path = `${where}.${f.name}`;
    if (!f.doc) out.push(`${path}: no doc`);
    const types = Array.isArray(f.type) ? f.type : [f.type];
    if (/Id$/.test(f.name) && !types.some((ty) => (ty as { logicalType?: string } | null)?.logicalType === 'uuid')) {
      out.push(`${path}: an id field that is not a uuid`);
    }
    lint(f.type, path, out);
  }
  lint(n.items, where, out);
  lint(n.values, where, out);
  if (typeof n.type === 'object') lint(n.type, where, out);
}

test('every record is namespaced under com.orderstream and documented field by field', (t) => {
  const problems: string[] = [];
  for (const file of schemaFiles()) {
    const schema = JSON.parse(readFileSync(join(SCHEMA_DIR, file), 'utf8')) as Node;
    if (!schema.namespace?.startsWith('com.orderstream.')) problems.push(`${file}: namespace ${String(schema.namespace)}`);
    lint(schema, file, problems);
  }
  t.deepEqual(problems, []);
});

test('DOMAIN.md contract messages keep their exact field names', (t) => {
  const fieldsOf = (topic: keyof typeof TOPICS) =>
    (JSON.parse(schemaText(TOPICS[topic].record)) as Node).fields?.map((f) => f.name);
  t.deepEqual(fieldsOf('order-created'), ['orderId', 'products']);
  t.deepEqual(fieldsOf('stock-response-topic'), ['orderId', 'productId', 'status', 'message']);
  t.deepEqual(fieldsOf('payment-success-topic'), ['orderId', 'paymentKey', 'amount', 'status']);
  t.deepEqual(fieldsOf('delivery-request-topic'), [
    'orderId', 'customerId', 'address', 'addressDetail', 'zipcode', 'phone', 'name', 'deliveryMemo',
  ]);
  t.deepEqual(fieldsOf('delivery-start-topic'), ['orderId', 'deliveryId', 'status']);
});
