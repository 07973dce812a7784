/**
 * GET /seller/reports/{date}.csv on the embedded system (local report folder): a seller streams
 * their own CSV, a missing day is 404 with a message, a buyer is refused, and the route is in
 * the generated OpenAPI document.
 */
import test from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSystem } from '../../gateway/system.ts';
import { localStorage, reportKeys } from '../../processors/reports/index.ts';
import { Api } from '../gateway/api.ts';

test('a seller downloads their own report; none is 404; a buyer gets 403', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'reports-gw-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const system = await startSystem({ PORT: '0', PG_PORT: '0', LOG_LEVEL: 'silent', REPORTS_DIR: dir, S3_ENDPOINT: '' }, { seed: false });
  t.teardown(() => system.close());
  const url = system.gateway.url;
  const seller = await new Api(url).signUp('SELLER');
  const other = await new Api(url).signUp('SELLER');
  const buyer = await new Api(url).signUp('BUYER');
  const csv = 'orderId,buyerId\no1,b1\n';
  await localStorage(dir).put(reportKeys('2026-12-01').seller(seller.userId!), Buffer.from(csv), { contentType: 'text/csv' });

  const res = await fetch(`${url}/seller/reports/2026-12-01.csv`, { headers: { authorization: `Bearer ${seller.token}` } });
  t.is(res.status, 200);
  t.regex(res.headers.get('content-type') ?? '', /^text\/csv/);
  t.is(await res.text(), csv);
  const none = await other.call<{ error: { message: string } }>('GET', '/seller/reports/2026-12-01.csv');
  t.is(none.status, 404, 'another seller does not see it');
  t.regex(none.body.error.message, /report for 2026-12-01/);
  t.is((await buyer.call('GET', '/seller/reports/2026-12-01.csv')).status, 403);
  t.is((await seller.call('GET', '/seller/reports/2026-13-40.csv')).status, 400);
  const doc = system.gateway.openapi() as { paths: Record<string, unknown> };
  t.truthy(doc.paths['/seller/reports/{date}.csv']);
});
