/**
 * The dashboard page in a real Chromium against a monitored shop (test/monitoring/shop.ts: the
 * system in-process, scraped by the harness's Prometheus): a seller signs in, every chart fills
 * with data from Prometheus through the gateway's whitelisted proxy, every processor's topology
 * is drawn with live rates on its nodes, and the page is saved to docs/dashboard.png. Buyers are
 * refused; an operator (OPERATOR_EMAILS) of any role is let in.
 */
import test from 'ava';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Api } from '../gateway/api.ts';
import { promQuery, startMonitoredShop } from '../monitoring/shop.ts';
import { launchChromium } from './browser.ts';

const SCREENSHOT = fileURLToPath(new URL('../../docs/dashboard.png', import.meta.url));
const OPERATOR = { email: 'ops@monitoring.test', password: 'correct horse battery' };

test.serial('sellers see every chart filled and each topology with live rates; buyers are refused, operators let in', async (t) => {
  process.env.OPERATOR_EMAILS = OPERATOR.email;
  const shop = await startMonitoredShop();
  t.teardown(() => shop.close());
  const url = shop.system.gateway.url;

  // Who may look.
  t.is((await shop.buyer.call('GET', '/monitoring/panels')).status, 403, 'a buyer is refused');
  t.is((await new Api(url).call('GET', '/monitoring/panels')).status, 401);
  const operator = new Api(url);
  t.is((await operator.call('POST', '/auth/signup', { ...OPERATOR, role: 'BUYER', name: 'Ops' })).status, 201);
  await operator.logIn(OPERATOR.email, OPERATOR.password);
  t.is((await operator.call('GET', '/monitoring/panels')).status, 200, 'an operator of any role is let in');
  t.is((await shop.seller.call('GET', '/monitoring/query_range/not-a-panel')).status, 400, 'only whitelisted queries');

  // Traffic through the whole test, so every rate has samples in its window.
  let driving = true;
  const traffic = (async () => { while (driving) { await shop.orders(3); await new Promise((r) => setTimeout(r, 500)); } })();
  t.teardown(async () => { driving = false; await traffic.catch(() => undefined); });
  await shop.orders(10);
  await new Api(url).waitFor('orders per minute in Prometheus', async () => {
    await new Promise((r) => setTimeout(r, 1000));
    const r = await promQuery('/api/v1/query', { query: `rate(orderstream_order_status_total{run="${shop.run}"}[1m])` });
    return r.some((s) => Number(s.value[1]) > 0) ? true : undefined;
  }, 30_000);

  const browser = await launchChromium();
  t.teardown(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
  await page.goto(`${url}/web/dashboard.html?refresh=2000`);
  const form = page.getByTestId('dash-signin');
  await form.locator('input[name=email]').fill(shop.sellerLogin.email);
  await form.locator('input[name=password]').fill(shop.sellerLogin.password);
  await form.locator('button[type=submit]').click();

  const charts = page.locator('[data-testid^="chart-"]');
  await page.waitForFunction(() => {
    const cards = [...document.querySelectorAll('[data-testid^="chart-"]')];
    return cards.length >= 6 && cards.every((c) => Number((c as HTMLElement).dataset.points) > 0);
  }, undefined, { timeout: 60_000 }).catch(() => undefined);
  const points = await charts.evaluateAll((cards) => cards.map((c) => [c.getAttribute('data-testid'), Number((c as HTMLElement).dataset.points)] as const));
  t.is(points.length, 6);
  for (const [id, n] of points) t.true(n > 0, `${id} has data (${n} points)`);

  for (const team of ['order', 'stock', 'payment', 'delivery']) {
    const map = page.getByTestId(`topology-${team}`);
    await map.locator('g.node').first().waitFor({ timeout: 30_000 });
    t.true(await map.locator('g.node').count() > 3, `${team}'s topology drawn`);
  }
  await page.waitForFunction(() => ['order', 'stock', 'payment', 'delivery'].every((team) =>
    [...document.querySelectorAll(`[data-testid="topology-${team}"] g.node`)].some((g) => Number(g.getAttribute('data-rate')) > 0)), undefined, { timeout: 30_000 }).catch(() => undefined);
  for (const team of ['order', 'stock', 'payment', 'delivery']) {
    const rates = await page.getByTestId(`topology-${team}`).locator('g.node').evaluateAll((gs) => gs.map((g) => Number(g.getAttribute('data-rate'))));
    t.true(rates.some((r) => r > 0), `${team}: a node with a live rate`);
  }
  const mermaid = await page.getByTestId('topology-order').locator('pre').textContent();
  t.regex(mermaid ?? '', /^flowchart LR/, 'the Mermaid text of describe() beside the drawing');

  mkdirSync(fileURLToPath(new URL('../../docs/', import.meta.url)), { recursive: true });
  await page.screenshot({ path: SCREENSHOT, fullPage: true });
});
