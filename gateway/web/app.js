/* global document */
/**
 * The page's composition: one API client, one STOMP connection, one store of followed orders,
 * and the views for a signed-out visitor, a buyer and a seller.
 */
import { Api } from './api.js';
import { wireAuth } from './auth.js';
import { Board } from './board.js';
import { BuyerView } from './buyer.js';
import { byId, showError } from './dom.js';
import { OrderPanel } from './order-panel.js';
import { OrderStore } from './orders.js';
import { Realtime } from './realtime.js';
import { SellerView } from './seller.js';

const api = new Api();
const realtime = new Realtime(api);
const store = new OrderStore(api, realtime);
const panel = new OrderPanel(byId('order-view'), { store, api });
const board = new Board(byId('board'), store, (orderId) => openOrder(orderId));

const buyer = new BuyerView({
  api, store, onPlaced: (orderId) => openOrder(orderId),
  elements: {
    products: byId('products'), productsError: byId('products-error'), more: byId('products-more'),
    cart: byId('cart'), total: byId('cart-total'), form: byId('checkout-form'),
    deliveryFields: byId('delivery-fields'), checkoutError: document.querySelector('[data-testid="checkout-error"]'),
  },
});
const seller = new SellerView({
  api, store,
  elements: {
    productForm: byId('product-form'), productError: document.querySelector('[data-testid="product-error"]'),
    myProducts: byId('my-products'), stockError: byId('stock-error'), boardError: byId('board-error'),
  },
});

const conn = byId('conn');
realtime.onState((state) => {
  conn.dataset.state = state;
  conn.textContent = state === 'online' ? 'live' : state;
  conn.title = state === 'online' ? 'Receiving live updates' : 'Live updates paused; reconnecting';
});

api.onSignedOut = (message) => { void signedOut(message); };

wireAuth({ api, signinForm: byId('signin-form'), signupForm: byId('signup-form'), onSignedIn: () => start() });

byId('sign-out').addEventListener('click', async () => {
  await api.signOut();
  await signedOut('Signed out.');
});

byId('board-refresh').addEventListener('click', () => { void loadOrders(); });

let me;

function openOrder(orderId) {
  board.selected = orderId;
  board.render();
  panel.open(orderId);
}

async function loadOrders() {
  const error = byId('board-error');
  try {
    await store.load(me.role === 'SELLER' ? '/seller/orders' : '/orders');
    showError(error, '');
  } catch (e) {
    showError(error, e);
  }
}

/** Signed in (or a stored login): who is this, then their view. */
async function start() {
  try {
    me = await api.get('/users/me');
  } catch {
    // A stored login the server no longer accepts: start over.
    await signedOut(api.signedIn ? 'Could not load your profile; please sign in again.' : undefined);
    return;
  }
  store.me = me.id;
  notice('');
  byId('who-name').textContent = `${me.name} · ${me.role === 'SELLER' ? 'seller' : 'buyer'}`;
  byId('who').hidden = false;
  byId('auth-view').hidden = true;
  byId('orders-view').hidden = false;
  byId('board-title').textContent = me.role === 'SELLER' ? 'Incoming orders' : 'Your orders';
  byId('buyer-view').hidden = me.role !== 'BUYER';
  byId('seller-view').hidden = me.role !== 'SELLER';
  // Sellers see the monitoring dashboard (operators open it directly: their role is an account list).
  byId('dashboard-link').hidden = me.role !== 'SELLER';
  document.body.dataset.role = me.role;
  panel.role = me.role;
  realtime.start();
  board.render();
  if (me.role === 'SELLER') await seller.show(me);
  else await Promise.all([buyer.show(), loadOrders()]);
}

async function signedOut(message) {
  seller.hide();
  panel.close();
  store.clear();
  await realtime.stop();
  me = undefined;
  delete document.body.dataset.role;
  byId('who').hidden = true;
  byId('buyer-view').hidden = true;
  byId('seller-view').hidden = true;
  byId('orders-view').hidden = true;
  byId('auth-view').hidden = false;
  notice(message ?? '');
}

function notice(text) {
  const el = byId('notice');
  el.textContent = text;
  el.hidden = text === '';
}

// The page's scripts ran (tests and monitors wait for this rather than for a timing).
void (api.signedIn ? start() : signedOut()).finally(() => { document.documentElement.dataset.ready = 'true'; });
