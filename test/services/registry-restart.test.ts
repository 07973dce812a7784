/**
 * The harness's registry keeps every schema and id across a restart (Apicurio's SQL storage on
 * an H2 file): with in-memory storage a restart would make every record already written
 * undecodable. Runs on a private registry instance, which it stops and starts.
 */
import test from 'ava';
import { randomUUID } from 'node:crypto';
import { privateInstance } from './private-instance.ts';

test('a registry restart loses no schema, no id and no compatibility level', async (t) => {
  t.timeout(300_000);
  const registry = await privateInstance('registry', { REGISTRY_PORT: '18081' });
  t.teardown(() => registry.dispose());
  await registry.up();
  const base = registry.env.SCHEMA_REGISTRY_URL!;
  const call = async (path: string, init?: RequestInit): Promise<unknown> => {
    const res = await fetch(`${base}${path}`, {
      ...init, headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
    });
    if (!res.ok) throw new Error(`${init?.method ?? 'GET'} ${path}: ${res.status} ${await res.text()}`);
    return res.json();
  };
  const run = randomUUID().slice(0, 8);
  const schemas = [1, 2, 3].map((n) => JSON.stringify({
    type: 'record', name: `R${n}`, namespace: `restart.t${run}`, fields: [{ name: 'id', type: 'string' }],
  }));
  const subjects = schemas.map((_, i) => `restart-${run}-${i}-value`);
  const ids: number[] = [];
  for (const [i, schema] of schemas.entries()) {
    await call(`/config/${subjects[i]}`, { method: 'PUT', body: JSON.stringify({ compatibility: 'BACKWARD' }) });
    ids.push(((await call(`/subjects/${subjects[i]}/versions`, { method: 'POST', body: JSON.stringify({ schema }) })) as { id: number }).id);
  }
  t.is(new Set(ids).size, 3);

  await registry.down();
  await registry.up();

  for (const [i, schema] of schemas.entries()) {
    const byId = (await call(`/schemas/ids/${ids[i]}`)) as { schema: string };
    t.deepEqual(JSON.parse(byId.schema), JSON.parse(schema), `schema id ${ids[i]} resolves to the same schema`);
    const again = (await call(`/subjects/${subjects[i]}/versions`, { method: 'POST', body: JSON.stringify({ schema }) })) as { id: number };
    t.is(again.id, ids[i]!, 're-registering returns the id given before the restart');
    const level = (await call(`/config/${subjects[i]}`)) as { compatibilityLevel: string };
    t.is(level.compatibilityLevel, 'BACKWARD');
  }
  const fresh = JSON.stringify({ type: 'record', name: 'R4', namespace: `restart.t${run}`, fields: [{ name: 'x', type: 'int' }] });
  const next = (await call(`/subjects/restart-${run}-new-value/versions`, { method: 'POST', body: JSON.stringify({ schema: fresh }) })) as { id: number };
  t.false(ids.some((id) => id === next.id), 'a schema registered after the restart gets a new id, not a reused one');
});
