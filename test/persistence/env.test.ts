import test from 'ava';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { persistenceConfigFromEnv, persistenceFromEnv } from '../../persistence/index.ts';

const cwd = '/srv/app';

test('defaults: embedded under .data/embedded, mongo as soon as MONGO_URL is set', (t) => {
  t.deepEqual(persistenceConfigFromEnv({}, cwd), { kind: 'embedded', path: '/srv/app/.data/embedded' });
  t.deepEqual(persistenceConfigFromEnv({ MONGO_URL: 'mongodb://db:27017' }, cwd), { kind: 'mongo', url: 'mongodb://db:27017', database: 'orderstream' });
  t.deepEqual(persistenceConfigFromEnv({ MONGO_URL: ' ', DATA_DIR: '' }, cwd), { kind: 'embedded', path: '/srv/app/.data/embedded' }, 'blank is unset');
});

test('explicit choices', (t) => {
  t.deepEqual(persistenceConfigFromEnv({ PERSISTENCE: 'embedded', MONGO_URL: 'mongodb://db', DATA_DIR: 'state' }, cwd), { kind: 'embedded', path: '/srv/app/state' });
  t.deepEqual(persistenceConfigFromEnv({ DATA_DIR: '/var/lib/os' }, cwd), { kind: 'embedded', path: '/var/lib/os' });
  t.deepEqual(persistenceConfigFromEnv({ PERSISTENCE: 'mongo', MONGO_DB: 'shop' }, cwd), { kind: 'mongo', url: 'mongodb://127.0.0.1:27017', database: 'shop' });
  t.deepEqual(persistenceConfigFromEnv({ MONGO_URL: 'mongodb+srv://u:p@cluster.example/?retryWrites=true' }, cwd).kind, 'mongo');
  t.deepEqual(persistenceConfigFromEnv({ MONGO_URL: 'mongodb://db:27017', MONGO_TIMEOUT_MS: '1500' }, cwd), { kind: 'mongo', url: 'mongodb://db:27017', database: 'orderstream', timeoutMs: 1500 });
});

test('bad values: the error names the variable', (t) => {
  t.throws(() => persistenceConfigFromEnv({ PERSISTENCE: 'postgres' }, cwd), { message: /^PERSISTENCE must be "embedded" or "mongo", not "postgres"/ });
  t.throws(() => persistenceConfigFromEnv({ MONGO_URL: 'http://db:27017' }, cwd), { message: /^MONGO_URL must be/ });
  t.throws(() => persistenceConfigFromEnv({ MONGO_URL: 'mongodb://' }, cwd), { message: /^MONGO_URL must be/ });
  t.throws(() => persistenceConfigFromEnv({ PERSISTENCE: 'mongo', MONGO_DB: 'my.db' }, cwd), { message: /^MONGO_DB must be/ });
  t.throws(() => persistenceConfigFromEnv({ PERSISTENCE: 'mongo', MONGO_TIMEOUT_MS: '-5' }, cwd), { message: /^MONGO_TIMEOUT_MS must be a positive whole number/ });
  const dir = mkdtempSync(join(tmpdir(), 'orderstream-env-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'file'), '');
  t.throws(() => persistenceConfigFromEnv({ DATA_DIR: 'file' }, dir), { message: /^DATA_DIR must be a directory/ });
});

test('persistenceFromEnv opens the configured store', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'orderstream-env-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const p = persistenceFromEnv({ DATA_DIR: join(dir, 'store') });
  t.is(p.name, 'embedded');
  await p.ping();
  await p.close();
  const m = persistenceFromEnv({ MONGO_URL: 'mongodb://127.0.0.1:1' });
  t.is(m.name, 'mongo');
  await m.close();
});
