import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import Koa from 'koa';
import { staticFiles } from './static.ts';

test('serves the page\'s files under their mount, nothing outside it, and not the folder\'s tests', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'static-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  mkdirSync(join(root, 'web'));
  writeFileSync(join(root, 'web', 'index.html'), '<h1>shop</h1>');
  writeFileSync(join(root, 'web', 'app.js'), 'export {};');
  writeFileSync(join(root, 'web', 'app.test.ts'), 'secret');
  writeFileSync(join(root, 'outside.js'), 'nope');
  const app = new Koa();
  // A root given with a trailing slash, as `new URL('./web/', import.meta.url)` gives it.
  app.use(staticFiles({ '/web/': `${join(root, 'web')}/` }, join(root, 'web', 'index.html')));
  const server = createServer(app.callback()).listen(0, '127.0.0.1');
  t.teardown(() => server.close());
  await new Promise((r) => server.once('listening', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const get = async (path: string) => { const r = await fetch(url + path); return [r.status, r.headers.get('content-type'), await r.text()] as const; };
  t.deepEqual(await get('/'), [200, 'text/html; charset=utf-8', '<h1>shop</h1>']);
  t.deepEqual(await get('/web/app.js'), [200, 'text/javascript; charset=utf-8', 'export {};']);
  t.is((await get('/web/app.test.ts'))[0], 404);
  t.is((await get('/web/..%2Foutside.js'))[0], 404);
  t.is((await get('/web/%2e%2e/outside.js'))[0], 404);
});
