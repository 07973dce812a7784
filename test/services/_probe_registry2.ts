import { SchemaRegistryClient, Compatibility, RestError } from '@confluentinc/schemaregistry';
const url = 'http://127.0.0.1:8081/apis/ccompat/v7';
const mk = () => new SchemaRegistryClient({ baseURLs: [url], maxRetries: 0 });
const c = mk();
const r = Math.random().toString(36).slice(2);
const A = `probe2-${r}-a`, B = `probe2-${r}-b`, C = `probe2-${r}-c`, D = `probe2-${r}-d`;
async function step(name: string, f: () => Promise<unknown>) {
  try { const x = await f(); console.log(name, 'OK', JSON.stringify(x)); return x; }
  catch (e) { console.log(name, 'ERR', e instanceof RestError ? `status=${e.status} code=${e.errorCode} ${e.message}` : String(e)); return undefined; }
}
async function raw(name: string, method: string, path: string, body?: unknown) {
  const res = await fetch(url + path, { method, headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  console.log(name, method, path, res.status, await res.text());
}
const v1 = { type: 'record', name: 'Order', namespace: 'orderstream', fields: [{ name: 'id', type: 'string' }, { name: 'qty', type: 'int' }] };
const s1 = { schema: JSON.stringify(v1), schemaType: 'AVRO' };
await step('config before subject exists', () => c.updateConfig(C, { compatibility: Compatibility.FORWARD }));
await step('getConfig before subject exists', () => c.getConfig(C));
await step('reg A', () => c.register(A, s1));
await step('reg B same schema', () => c.register(B, s1));
await step('reg A no schemaType', () => mk().register(A, { schema: JSON.stringify(v1) }));
await raw('compat verbose', 'POST', `/compatibility/subjects/${A}/versions/latest?verbose=true`, { schema: JSON.stringify({ ...v1, fields: [...v1.fields, { name: 'x', type: 'int' }] }) });
await raw('config A none', 'GET', `/config/${A}`);
await raw('config A defaultToGlobal', 'GET', `/config/${A}?defaultToGlobal=true`);
await step('updateConfig FORWARD A', () => c.updateConfig(A, { compatibility: Compatibility.FORWARD }));
await step('FORWARD remove field', () => c.testSubjectCompatibility(A, { schema: JSON.stringify({ ...v1, fields: [v1.fields[0]] }), schemaType: 'AVRO' }));
await step('FORWARD add field no default', () => c.testSubjectCompatibility(A, { schema: JSON.stringify({ ...v1, fields: [...v1.fields, { name: 'x', type: 'int' }] }), schemaType: 'AVRO' }));
await step('updateConfig with normalize', () => c.updateConfig(A, { compatibility: Compatibility.FULL, normalize: true }));
await step('getConfig A', () => c.getConfig(A));
await raw('delete config A', 'DELETE', `/config/${A}`);
await raw('get config A after delete', 'GET', `/config/${A}`);
await step('version nonexist', () => c.getSchemaMetadata(A, 42));
await step('perm delete without soft', () => c.deleteSubject(B, true));
await raw('subjects deleted=true', 'GET', `/subjects?deleted=true`);
await step('soft delete A', () => c.deleteSubject(A, false));
await raw('subjects deleted=true', 'GET', `/subjects?deleted=true`);
await raw('versions deleted=true', 'GET', `/subjects/${A}/versions?deleted=true`);
await raw('version 1 deleted=true', 'GET', `/subjects/${A}/versions/1?deleted=true`);
await step('soft delete A again', () => c.deleteSubject(A, false));
await step('re-register after soft delete', () => mk().registerFullResponse(A, s1));
await raw('versions', 'GET', `/subjects/${A}/versions`);
await step('soft delete A', () => c.deleteSubject(A, false));
await step('perm delete A', () => c.deleteSubject(A, true));
// references
const money = { type: 'record', name: 'Money', namespace: 'orderstream', fields: [{ name: 'amount', type: 'long' }, { name: 'currency', type: 'string' }] };
const mid = await step('reg money', () => c.register(D, { schema: JSON.stringify(money), schemaType: 'AVRO' }));
const withRef = { type: 'record', name: 'Priced', namespace: 'orderstream', fields: [{ name: 'id', type: 'string' }, { name: 'price', type: 'orderstream.Money' }] };
const E = `probe2-${r}-e`;
const eid = await step('reg with ref', () => c.register(E, { schema: JSON.stringify(withRef), schemaType: 'AVRO', references: [{ name: 'orderstream.Money', subject: D, version: 1 }] }));
await step('get with ref', () => mk().getBySubjectAndId(E, eid as number));
await raw('referencedby', 'GET', `/subjects/${D}/versions/1/referencedby`);
await step('metadata register', () => c.registerFullResponse(`probe2-${r}-f`, { schema: JSON.stringify({ ...v1, name: 'Meta' }), schemaType: 'AVRO', metadata: { properties: { owner: 'x' } } }));
await step('get latest meta', () => mk().getLatestSchemaMetadata(`probe2-${r}-f`));
await step('getLatestWithMetadata', () => mk().getLatestWithMetadata(`probe2-${r}-f`, { owner: 'x' }));
await raw('mode', 'GET', `/mode`);
await raw('schemas/ids/x/versions', 'GET', `/schemas/ids/${mid}/versions`);
await raw('schemas/ids/x/subjects', 'GET', `/schemas/ids/${mid}/subjects`);
await raw('schemas/types', 'GET', `/schemas/types`);
for (const s of [E, D, `probe2-${r}-f`, C, B]) { await step('cleanup soft ' + s, () => c.deleteSubject(s, false)); await step('cleanup perm ' + s, () => c.deleteSubject(s, true)); }
await raw('subjects', 'GET', `/subjects?deleted=true`);
