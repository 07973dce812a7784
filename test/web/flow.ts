/**
 * The shop as two people use it, through the page only: a buyer orders for delivery, pays when
 * asked and watches the order reach COMPLETED; the demo seller sees the order come in and
 * answers the buyer's chat message, which the buyer's page shows. Every wait is on what the page
 * shows, never on a timing.
 */
import type { ExecutionContext } from 'ava';
import { mkdirSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Browser, Locator, Page } from 'playwright-core';

export const ARTIFACTS = fileURLToPath(new URL('./artifacts/', import.meta.url));

const BUYER = { email: 'buyer@example.com', password: 'demo-buyer-pass' };
const SELLER = { email: 'seller@example.com', password: 'demo-seller-pass' };
const PRODUCT = 'Pour-over kettle';
/** The DELIVERY path of the saga, in order (DOMAIN.md; the delivery processor may skip IN_TRANSIT). */
const DELIVERY_PATH = ['PENDING_PAYMENT', 'PAYMENT_COMPLETED', 'PREPARING', 'SHIPMENT_STARTED', 'COMPLETED'];
/** Long enough for a saga on a loaded machine; a wait ends as soon as the page shows its text. */
const WAIT = { timeout: 90_000 };

export interface FlowResult {
  readonly orderId: string;
  readonly timeline: string[];
}

export async function shopFlow(t: ExecutionContext, browser: Browser, url: string, name: string): Promise<FlowResult> {
  mkdirSync(ARTIFACTS, { recursive: true });
  for (const who of ['buyer', 'seller']) rmSync(`${ARTIFACTS}${name}-${who}-failed.png`, { force: true });
  const pageErrors: string[] = [];
  const open = async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 1000 }, deviceScaleFactor: 1 });
    t.teardown(() => context.close());
    const page = await context.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
    const failed: string[] = [];
    page.on('response', (r) => { if (r.status() >= 400 && r.request().resourceType() !== 'fetch') failed.push(`${r.request().method()} ${new URL(r.url()).pathname} → ${r.status()}`); });
    await page.goto(url);
    await page.locator('html[data-ready="true"]').waitFor({ timeout: 30_000 }).catch((e: unknown) => {
      throw new Error(`the page's scripts did not start (${failed.join('; ') || 'no failed request'}; errors: ${pageErrors.join('; ') || 'none'})`, { cause: e });
    });
    return page;
  };
  const buyer = await open();
  const seller = await open();
  try {
    // A wrong password: the API's message shows beside the sign-in form.
    await signIn(buyer, BUYER.email, 'not-the-password');
    await buyer.getByTestId('signin-error').filter({ hasText: 'wrong email or password' }).waitFor(WAIT);

    await signIn(buyer, BUYER.email, BUYER.password);
    const product = buyer.getByTestId('product').filter({ hasText: PRODUCT });
    await product.getByTestId('product-stock-left').filter({ hasText: /\d+ left/ }).waitFor(WAIT);
    const leftBefore = await unitsLeft(product);
    await product.getByTestId('add-quantity').fill('2');
    await product.getByTestId('add-to-cart').click();
    t.is(await buyer.getByTestId('cart-line').count(), 1);
    t.is(await buyer.getByTestId('cart-total').textContent(), '$118.00');

    // Placing without an address: the API refuses and the checkout form says why.
    await buyer.getByTestId('place-order').click();
    await buyer.getByTestId('checkout-error').filter({ hasText: /delivery\.address|address/ }).waitFor(WAIT);

    await buyer.getByTestId('delivery-address').fill('12 Roastery Lane');
    await buyer.getByTestId('delivery-zipcode').fill('04524');
    await buyer.getByTestId('delivery-memo').fill('Leave it with the concierge');
    await buyer.getByTestId('place-order').click();

    const panel = buyer.getByTestId('order-panel');
    await panel.getByTestId('pay').filter({ hasText: 'Pay $118.00' }).waitFor(WAIT);
    t.is(await panel.getByTestId('order-status').textContent(), 'PENDING_PAYMENT');
    const orderId = (await panel.getAttribute('data-order-id'))!;
    await buyer.getByTestId('board-column-placed').getByTestId(`board-card-${orderId}`).waitFor(WAIT);
    // The reservation shows in the catalogue's units left.
    await product.getByTestId('product-stock-left').filter({ hasText: `${leftBefore - 2} left` }).waitFor(WAIT);

    const question = 'Could you gift-wrap the kettle?';
    await panel.getByTestId('chat-input').fill(question);
    await panel.getByTestId('chat-send').click();
    await panel.getByTestId('chat-message').filter({ hasText: question }).waitFor(WAIT);
    await emptied(buyer, 'order-panel', 'chat-input');

    await panel.getByTestId('pay').click();
    await panel.getByTestId('order-status').filter({ hasText: /^COMPLETED$/ }).waitFor(WAIT);
    await buyer.getByTestId('board-column-done').getByTestId(`board-card-${orderId}`).waitFor(WAIT);
    t.is(await panel.getByTestId('order-progress').getAttribute('aria-valuenow'), '100');
    t.is(await panel.getByTestId('cancel').count(), 0, 'a completed order cannot be cancelled');
    const timeline = await panel.getByTestId('order-timeline').locator('li[data-status]').evaluateAll((items) => items.map((li) => (li as HTMLElement).dataset.status!));

    // A second order, kept in the warehouse, cancelled while awaiting payment: its units come back.
    const dripper = buyer.getByTestId('product').filter({ hasText: 'Ceramic dripper' });
    const dripperLeft = await unitsLeft(dripper);
    await dripper.getByTestId('add-to-cart').click();
    await buyer.getByTestId('fulfilment-warehouse').check();
    t.true(await buyer.getByTestId('delivery-address').isHidden(), 'no address for warehouse storage');
    await buyer.getByTestId('place-order').click();
    await panel.getByTestId('pay').waitFor(WAIT);
    const cancelledId = (await panel.getAttribute('data-order-id'))!;
    t.not(cancelledId, orderId);
    await dripper.getByTestId('product-stock-left').filter({ hasText: `${dripperLeft - 1} left` }).waitFor(WAIT);
    await panel.getByTestId('cancel').click();
    await panel.getByTestId('order-status').filter({ hasText: /^CANCELLED$/ }).waitFor(WAIT);
    await buyer.getByTestId('board-column-closed').getByTestId(`board-card-${cancelledId}`).waitFor(WAIT);
    t.is(await panel.getByTestId('pay').count(), 0, 'a cancelled order cannot be paid');
    await dripper.getByTestId('product-stock-left').filter({ hasText: `${dripperLeft} left` }).waitFor(WAIT);
    await buyer.getByTestId(`board-card-${orderId}`).click();
    await panel.getByTestId('order-status').filter({ hasText: /^COMPLETED$/ }).waitFor(WAIT);

    // The seller: the order is among the incoming ones, with the buyer's question to answer.
    await signIn(seller, SELLER.email, SELLER.password);
    await seller.getByTestId(`board-card-${orderId}`).click(WAIT);
    const sellerPanel = seller.getByTestId('order-panel');
    await sellerPanel.getByTestId('chat-message').filter({ hasText: question }).waitFor(WAIT);
    await sellerPanel.getByTestId('order-status').filter({ hasText: /^COMPLETED$/ }).waitFor(WAIT);
    t.is(await sellerPanel.getByTestId('pay').count(), 0, 'a seller does not pay');
    const answer = 'Gift-wrapped and on its way!';
    await sellerPanel.getByTestId('chat-input').fill(answer);
    await sellerPanel.getByTestId('chat-send').click();
    await sellerPanel.getByTestId('chat-message').filter({ hasText: answer }).waitFor(WAIT);
    await emptied(seller, 'order-panel', 'chat-input');

    // A product: the API's refusal shows beside the form; a good one lists with its units, then new ones.
    await seller.getByTestId('product-price').fill('12.50');
    await seller.getByTestId('product-submit').click();
    await seller.getByTestId('product-error').filter({ hasText: 'name' }).waitFor(WAIT);
    const mug = 'Cupping mug';
    await seller.getByTestId('product-name').fill(mug);
    await seller.getByTestId('product-stock').fill('7');
    await seller.getByTestId('product-submit').click();
    const row = seller.getByTestId('my-product').filter({ hasText: mug });
    await row.getByTestId('my-product-available').filter({ hasText: /^7$/ }).waitFor(WAIT);
    t.true(await seller.getByTestId('product-error').isHidden());
    await row.getByTestId('stock-input').fill('9');
    await row.getByTestId('stock-submit').click();
    await row.getByTestId('my-product-available').filter({ hasText: /^9$/ }).waitFor(WAIT);

    // The buyer's page shows the answer as it is pushed.
    await panel.getByTestId('chat-message').filter({ hasText: answer }).waitFor(WAIT);
    await buyer.screenshot({ path: `${ARTIFACTS}${name}-buyer.png`, fullPage: true });
    await seller.screenshot({ path: `${ARTIFACTS}${name}-seller.png`, fullPage: true });

    // A refused access token is refreshed once: the reloaded page stays signed in and lists the order.
    await buyer.evaluate(() => {
      const tokens = JSON.parse(sessionStorage.getItem('orderstream.tokens')!) as { accessToken: string };
      sessionStorage.setItem('orderstream.tokens', JSON.stringify({ ...tokens, accessToken: 'expired.or.forged' }));
    });
    await buyer.reload();
    await buyer.getByTestId('board-column-done').getByTestId(`board-card-${orderId}`).waitFor(WAIT);
    t.regex((await buyer.getByTestId('who').textContent())!, /buyer/);
    await buyer.getByTestId('connection').filter({ hasText: 'live' }).waitFor(WAIT);

    t.deepEqual(pageErrors, [], 'no script errors on the pages');
    return { orderId, timeline };
  } catch (e) {
    await buyer.screenshot({ path: `${ARTIFACTS}${name}-buyer-failed.png`, fullPage: true }).catch(() => undefined);
    await seller.screenshot({ path: `${ARTIFACTS}${name}-seller-failed.png`, fullPage: true }).catch(() => undefined);
    t.log('page errors:', pageErrors);
    throw e;
  }
}

export function followsDeliveryPath(timeline: readonly string[]): boolean {
  const seen = timeline.filter((s) => s !== 'IN_TRANSIT' && s !== 'CREATED');
  return JSON.stringify(seen) === JSON.stringify(DELIVERY_PATH);
}

async function unitsLeft(product: Locator): Promise<number> {
  const text = await product.getByTestId('product-stock-left').filter({ hasText: /\d+ left/ }).textContent(WAIT);
  return Number(/(\d+) left/.exec(text ?? '')![1]);
}

/** Waits until an input is empty again: the chat form clears once the gateway's RECEIPT came back. */
async function emptied(page: Page, within: string, input: string): Promise<void> {
  await page.waitForFunction(([w, i]) => (document.querySelector(`[data-testid="${w}"] [data-testid="${i}"]`) as HTMLInputElement | null)?.value === '', [within, input], WAIT);
}

async function signIn(page: Page, email: string, password: string): Promise<void> {
  await page.getByTestId('signin-email').fill(email);
  await page.getByTestId('signin-password').fill(password);
  await page.getByTestId('signin-submit').click();
}
