/**
 * The contracts against the real schema registry of the services harness (Apicurio 3.0.9,
 * Confluent-compatible API): registration of every contract, evolution, the gate refusing
 * breaking changes (function and CLI), unknown ids. Subjects live under a per-run prefix and
 * are soft-deleted afterwards (see test/services/subjects.ts for why not permanently), so the file can run again and again.
 */
import test from 'ava';
import { randomUUID } from 'node:crypto';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Compatibility, RestError, SchemaRegistryClient } from '@confluentinc/schemaregistry';
import { endpoints } from '../scripts/endpoints.ts';
import { retireSubjects } from '../test/services/subjects.ts';
import { contracts, registerSubject, checkSubject, listSubjects, formatCheck } from './contracts.ts';
import { avroSerde, avroValueSerde } from './serde.ts';
import { DeserializationError, SchemaRegistryError } from './errors.ts';
import { sampleValue } from './samples.ts';
import { TOPICS, schemaText } from './topics.ts';
import type { StockResponseMessage } from './generated/index.ts';

const { schemaRegistryUrl } = endpoints();
const prefix = `schemas-test-${randomUUID().slice(0, 8)}-`;
const fresh = () => new SchemaRegistryClient({ baseURLs: [schemaRegistryUrl], maxRetries: 0 });
const client = fresh();
const repoRoot = fileURLToPath(new URL('..', import.meta.url));

interface Schema {
  fields: { name: string; type: unknown; default?: unknown; doc?: string }[];
  [k: string]: unknown;
}
const stockResponse = (): Schema => JSON.parse(schemaText(TOPICS['stock-response-topic'].record)) as Schema;

test.serial('every contract registers under <topic>-value and reads back by id', async (t) => {
  for (const c of contracts(prefix)) {
    const result = await registerSubject(client, c.subject, c.schema, 'FULL_TRANSITIVE');
    t.is(result.error, undefined, c.subject);
    t.is(result.check.status, 'new');
    t.is(result.version, 1, c.subject);
    const id = result.id ?? -1;
    const byId = await fresh().getBySubjectAndId(c.subject, id);
    t.deepEqual(JSON.parse(byId.schema) as unknown, JSON.parse(c.schema), c.subject);
    t.is(await fresh().getCompatibility(c.subject), Compatibility.FULL_TRANSITIVE, c.subject);
    // The serde writes exactly that id.
    const bytes = await avroValueSerde(fresh(), c.name, { autoRegister: false }).serialize(c.topic, sampleValue(c.name));
    t.is(bytes.readInt32BE(1), id, c.subject);
  }
  // Registering again changes nothing.
  const again = await registerSubject(client, `${prefix}order-created-value`, schemaText('StockDecreaseRequestMessage'), 'FULL_TRANSITIVE');
  t.is(again.check.status, 'unchanged');
  t.is(again.version, 1);
  const listed = await listSubjects(fresh(), prefix);
  t.is(listed.length, contracts().length);
  t.true(listed.every((s) => s.versions.length === 1 && s.compatibility === 'FULL_TRANSITIVE'));
});

test.serial('an optional field with a default evolves: old consumers read new records, new consumers old ones', async (t) => {
  const topic = `${prefix}evolve-stock-response`;
  const subject = `${topic}-value`;
  const v1 = stockResponse();
  const v2 = stockResponse();
  v2.fields.push({ name: 'warehouse', type: ['null', 'string'], default: null, doc: 'Warehouse that answered.' });
  t.like(await registerSubject(client, subject, JSON.stringify(v1), 'FULL_TRANSITIVE'), { version: 1 });
  const second = await registerSubject(client, subject, JSON.stringify(v2), 'FULL_TRANSITIVE');
  t.is(second.error, undefined);
  t.is(second.check.status, 'compatible');
  t.is(second.version, 2);

  const oldSerde = avroSerde<StockResponseMessage>(fresh(), v1, { autoRegister: false });
  const newSerde = avroSerde<StockResponseMessage & { warehouse?: string | null }>(fresh(), v2, { autoRegister: false });
  const value = sampleValue('stock-response-topic');

  const newBytes = await newSerde.serialize(topic, { ...value, warehouse: 'ICN-2' });
  t.is(newBytes.readInt32BE(1), second.id ?? -1);
  t.deepEqual(await oldSerde.deserialize(topic, newBytes), value, 'the old consumer drops the field it does not know');

  const oldBytes = await oldSerde.serialize(topic, value);
  t.not(oldBytes.readInt32BE(1), second.id ?? -1);
  t.deepEqual(await newSerde.deserialize(topic, oldBytes), { ...value, warehouse: null }, 'the new consumer fills in the default');
});

const breaking: { title: string; change: (s: Schema) => void; reason: RegExp }[] = [
  {
    title: 'removing a field without a default',
    change: (s) => { s.fields = s.fields.filter((f) => f.name !== 'message'); },
    reason: /removed field 'message' has no default; old consumers cannot read new records/,
  },
  {
    title: "changing a field's type",
    change: (s) => { const f = s.fields.find((x) => x.name === 'productId'); if (f) f.type = 'long'; },
    reason: /field productId changed type string → long; old records cannot be read/,
  },
  {
    title: 'renaming an enum symbol',
    change: (s) => { const f = s.fields.find((x) => x.name === 'status'); if (f) (f.type as { symbols: string[] }).symbols = ['SUCCEEDED', 'FAILED']; },
    reason: /field status: enum StockResponseStatus symbol SUCCESS removed\/renamed/,
  },
];

for (const b of breaking) {
  test.serial(`the gate refuses ${b.title}, naming the field; nothing is registered`, async (t) => {
    const subject = `${prefix}${randomUUID().slice(0, 6)}-stock-response-topic-value`;
    await registerSubject(client, subject, JSON.stringify(stockResponse()), 'FULL_TRANSITIVE');
    const next = stockResponse();
    b.change(next);
    const check = await checkSubject(fresh(), subject, JSON.stringify(next), 'FULL_TRANSITIVE');
    t.is(check.status, 'incompatible');
    t.regex(formatCheck(check), b.reason);
    t.regex(formatCheck(check), new RegExp(`^${subject}: INCOMPATIBLE \\(FULL_TRANSITIVE\\)`));
    const result = await registerSubject(fresh(), subject, JSON.stringify(next), 'FULL_TRANSITIVE');
    t.truthy(result.error);
    t.deepEqual(await fresh().getAllVersions(subject), [1]);
    // The registry, with the level the gate set, refuses it on its own too (409).
    const err = await t.throwsAsync(fresh().register(subject, { schemaType: 'AVRO', schema: JSON.stringify(next) }, false), { instanceOf: RestError });
    t.is(err?.status, 409);
  });
}

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'schemas/contracts-cli.ts', ...args],
      { cwd: repoRoot, env: { ...process.env, SCHEMA_REGISTRY_URL: schemaRegistryUrl } },
      (err, stdout, stderr) => resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr }),
    );
  });
}

test.serial('the CLI exits non-zero with the reason when a local change breaks the contract', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'contracts-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const broken = stockResponse();
  broken.fields = broken.fields.filter((f) => f.name !== 'message');
  const file = join(dir, 'StockResponseMessage.avsc');
  writeFileSync(file, JSON.stringify(broken, null, 2));
  const subject = `${prefix}stock-response-topic-value`;

  const check = await cli(['check', '--subject', subject, '--schema', file]);
  t.is(check.code, 1, check.stderr);
  t.regex(check.stderr, new RegExp(`${subject}: removed field 'message' has no default; old consumers cannot read new records \\(against version 1\\)`));
  t.regex(check.stdout, /1 subject, 1 incompatible/);

  const register = await cli(['register', '--subject', subject, '--schema', file]);
  t.is(register.code, 1, register.stderr);
  t.deepEqual(await fresh().getAllVersions(subject), [1]);

  // The committed contracts are all fine against what the first test registered.
  const all = await cli(['check', '--prefix', prefix]);
  t.is(all.code, 0, all.stderr);
  t.regex(all.stdout, new RegExp(`${contracts().length} subjects, 0 incompatible`));

  const list = await cli(['list', '--prefix', `${prefix}order-created`]);
  t.is(list.code, 0, list.stderr);
  t.regex(list.stdout, new RegExp(`${prefix}order-created-value  \\[FULL_TRANSITIVE\\]  v1=id \\d+`));

  const usage = await cli(['frobnicate']);
  t.is(usage.code, 2);
  t.regex(usage.stderr, /usage: npm run contracts/);
});

test.serial("a serde registering a new subject sets the contract's level, so the registry refuses a breaking schema", async (t) => {
  const topic = `${prefix}auto-stock-response-topic`;
  const value = sampleValue('stock-response-topic');
  await avroValueSerde(fresh(), 'stock-response-topic').serialize(topic, value);
  t.is(await fresh().getCompatibility(`${topic}-value`), Compatibility.FULL_TRANSITIVE);

  const broken = stockResponse();
  const productId = broken.fields.find((f) => f.name === 'productId');
  if (productId) productId.type = 'long';
  const err = await t.throwsAsync(avroSerde(fresh(), broken).serialize(topic, { ...value, productId: 7 }), {
    instanceOf: SchemaRegistryError,
  });
  t.is(err?.failure, 'incompatible');
  t.is(err?.subject, `${topic}-value`);
  // Apicurio's 409 names the place (its verbose compatibility check does not).
  t.regex(err?.message ?? '', /refused com\.orderstream\.stock\.StockResponseMessage as incompatible/);
  t.regex(err?.message ?? '', /not compatible with writer type: STRING at \/fields\/1\/type/);
  t.deepEqual(await fresh().getAllVersions(`${topic}-value`), [1]);
});

test.serial('serdes of several processes registering one new subject at once all succeed (Apicurio races on the first level)', async (t) => {
  // Without the retry in setSubjectLevel about a third of these losers got 409 "A rule named
  // 'COMPATIBILITY' already exists", reported as an incompatible schema.
  const value = sampleValue('stock-response-topic');
  for (let round = 0; round < 5; round++) {
    const topic = `${prefix}race-${round}-stock-response-topic`;
    const serdes = [0, 1, 2, 3].map(() => avroValueSerde(fresh(), 'stock-response-topic'));
    const written = await Promise.all(serdes.map((s) => s.serialize(topic, value)));
    t.is(new Set(written.map((b) => Buffer.from(b).readInt32BE(1))).size, 1, 'one schema id for all');
    t.is(await fresh().getCompatibility(`${topic}-value`), Compatibility.FULL_TRANSITIVE);
  }
});

test.serial('a payload naming a schema id the registry does not have is unknown-schema-id', async (t) => {
  const serde = avroValueSerde(fresh(), 'order-created');
  const topic = `${prefix}order-created`;
  const bytes = Buffer.from(await serde.serialize(topic, sampleValue('order-created')));
  bytes.writeInt32BE(2_000_000_000, 1);
  const err = await t.throwsAsync(serde.deserialize(topic, bytes), { instanceOf: DeserializationError });
  t.is(err?.reason, 'unknown-schema-id');
  t.is(err?.schemaId, 2_000_000_000);
  t.false(err?.retriable);
});

test.after.always('delete every subject this run created (soft: see test/services/subjects.ts)', async (t) => {
  const admin = fresh();
  const mine = (await admin.getAllSubjects()).filter((s) => s.startsWith(prefix));
  await retireSubjects(admin, mine);
  t.deepEqual((await fresh().getAllSubjects()).filter((s) => s.startsWith(prefix)), []);
});
