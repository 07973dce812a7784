/* global crypto, clearTimeout */
/**
 * The buyer's shop: the catalogue with prices and units left, a cart with quantities, and the
 * checkout (delivery address or warehouse storage). A placed order goes to the store, which
 * follows it live, and opens in the order panel.
 */
import { busy, fill, h, showError } from './dom.js';
import { formatMoney } from './format.js';

const PAGE = 24;

export class BuyerView {
  #api;
  #store;
  #onPlaced;
  #el;
  /** productId → product as last read */
  #products = new Map();
  #cursor = null;
  /** productId → quantity */
  #cart = new Map();
  #recheck;

  constructor({ api, store, onPlaced, elements }) {
    this.#api = api;
    this.#store = store;
    this.#onPlaced = onPlaced;
    this.#el = elements;
    const { form, more } = elements;
    more.addEventListener('click', () => { void this.#loadProducts(this.#cursor); });
    form.addEventListener('change', (e) => { if (e.target.name === 'fulfilment') this.#toggleDelivery(); });
    form.addEventListener('submit', (e) => { e.preventDefault(); void this.#placeOrder(); });
    // Units left move as orders reserve stock: read them again when an order moves.
    let pending;
    store.onChange(() => { clearTimeout(pending); pending = setTimeout(() => { void this.refreshProducts(); }, 800); });
    this.#toggleDelivery();
  }

  async show() {
    // A new sign-in starts with an empty cart, not the previous user's.
    this.#cart.clear();
    this.#products.clear();
    await this.#loadProducts(null);
    this.#renderCart();
  }

  async refreshProducts() {
    try {
      const page = await this.#api.get(`/products?limit=${Math.max(PAGE, this.#products.size)}`);
      for (const p of page.items) this.#products.set(p.id, p);
      this.#renderProducts();
      this.#renderCart();
    } catch { /* the next change reads again */ }
  }

  async #loadProducts(cursor) {
    const { productsError, more } = this.#el;
    showError(productsError, '');
    try {
      const page = await this.#api.get(`/products?limit=${PAGE}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      for (const p of page.items) this.#products.set(p.id, p);
      this.#cursor = page.nextCursor;
      more.hidden = !page.nextCursor;
      this.#renderProducts();
    } catch (e) {
      showError(productsError, e);
    }
  }

  #renderProducts() {
    const products = [...this.#products.values()];
    fill(this.#el.products, products.length === 0 ? h('li', { class: 'muted' }, 'No products yet.') : products.map((p) => this.#productCard(p)));
    // A new product's units are unknown until the stock processor reported them: look again soon.
    clearTimeout(this.#recheck);
    if (products.some((p) => p.available === null)) this.#recheck = setTimeout(() => { void this.refreshProducts(); }, 1500);
  }

  #productCard(p) {
    const quantity = h('input', { type: 'number', min: 1, step: 1, value: '1', max: p.available ?? undefined, dataset: { testid: 'add-quantity' } });
    const stock = p.available === null ? 'Checking stock…' : p.available === 0 ? 'Sold out' : `${p.available} left`;
    const stockClass = p.available === null ? '' : p.available === 0 ? 'out' : p.available <= 5 ? 'low' : '';
    return h('li', { class: 'product', dataset: { testid: 'product', productId: p.id, name: p.name } },
      h('span', { class: 'name' }, p.name),
      h('span', { class: 'price' }, formatMoney(p.price)),
      h('span', { class: `stock ${stockClass}`, dataset: { testid: 'product-stock-left' } }, stock),
      h('div', { class: 'add' },
        h('label', {}, 'Qty', quantity),
        h('button', {
          type: 'button', class: 'secondary', disabled: p.available === 0, dataset: { testid: 'add-to-cart' }, 'aria-label': `Add ${p.name} to cart`,
          onclick: () => {
            const n = Math.max(1, Math.trunc(Number(quantity.value) || 1));
            this.#cart.set(p.id, (this.#cart.get(p.id) ?? 0) + n);
            this.#renderCart();
          },
        }, 'Add to cart')));
  }

  #renderCart() {
    const { cart, total } = this.#el;
    const lines = [...this.#cart].map(([id, quantity]) => ({ product: this.#products.get(id), id, quantity })).filter((l) => l.product);
    fill(cart, lines.length === 0 ? h('li', { class: 'empty' }, 'Your cart is empty.') : lines.map(({ product, id, quantity }) => {
      const input = h('input', {
        type: 'number', min: 1, step: 1, value: String(quantity), 'aria-label': `Quantity of ${product.name}`, dataset: { testid: 'cart-quantity' },
        onchange: () => {
          const n = Math.trunc(Number(input.value));
          if (n > 0) this.#cart.set(id, n); else this.#cart.delete(id);
          this.#renderCart();
        },
      });
      return h('li', { dataset: { testid: 'cart-line', productId: id } },
        h('span', {}, product.name), input,
        h('span', {}, formatMoney(product.price * quantity)),
        h('button', { type: 'button', class: 'link', 'aria-label': `Remove ${product.name}`, onclick: () => { this.#cart.delete(id); this.#renderCart(); } }, 'Remove'));
    }));
    total.textContent = formatMoney(lines.reduce((sum, l) => sum + l.product.price * l.quantity, 0));
  }

  #toggleDelivery() {
    const { form, deliveryFields } = this.#el;
    const delivery = form.elements.fulfilment.value === 'DELIVERY';
    deliveryFields.disabled = !delivery;
    deliveryFields.hidden = !delivery;
  }

  async #placeOrder() {
    const { form, checkoutError } = this.#el;
    if (this.#cart.size === 0) { showError(checkoutError, 'Add a product to the cart first.'); return; }
    const fulfilment = form.elements.fulfilment.value;
    const f = (name) => form.elements[name].value.trim();
    const optional = (name) => (f(name) === '' ? {} : { [name]: f(name) });
    const body = {
      lines: [...this.#cart].map(([productId, quantity]) => ({ productId, quantity })),
      fulfilment,
      ...(fulfilment === 'DELIVERY' ? {
        delivery: { address: f('address'), zipcode: f('zipcode'), ...optional('addressDetail'), ...optional('name'), ...optional('phone'), ...optional('deliveryMemo') },
      } : {}),
    };
    const placed = await busy(form, checkoutError, () => this.#api.post('/orders', body, { 'Idempotency-Key': crypto.randomUUID() }));
    if (!placed) return;
    const lines = body.lines.map((l) => {
      const p = this.#products.get(l.productId);
      return { productId: l.productId, name: p?.name ?? null, quantity: l.quantity, unitPrice: p?.price ?? 0, subtotal: (p?.price ?? 0) * l.quantity };
    });
    const placeholder = {
      orderId: placed.orderId, lines, total: lines.reduce((s, l) => s + l.subtotal, 0), fulfilment, delivery: body.delivery ?? null,
      status: { orderId: placed.orderId, status: placed.status, statusDescription: 'Order received', progressPercentage: 0, canCancel: false, lastUpdated: new Date().toISOString() },
      timeline: [], placedAt: new Date().toISOString(),
    };
    this.#cart.clear();
    this.#renderCart();
    // track() shows the placeholder at once, so the panel has something to open.
    const following = this.#store.track(placed.orderId, { placeholder });
    this.#onPlaced(placed.orderId);
    await following;
  }
}
