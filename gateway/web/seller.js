/* global setInterval, clearInterval, clearTimeout */
/**
 * The seller's side: create products, set their stock, and the incoming orders (GET
 * /seller/orders). A seller has no push for a new order (only for the orders they already
 * follow), so the list is read again on every push for their orders and every few seconds.
 */
import { busy, fill, h, showError } from './dom.js';
import { formatMoney } from './format.js';

const POLL_MS = 4000;

export class SellerView {
  #api;
  #store;
  #me;
  #el;
  #poll;
  #recheck;

  constructor({ api, store, elements }) {
    this.#api = api;
    this.#store = store;
    this.#el = elements;
    elements.productForm.addEventListener('submit', (e) => { e.preventDefault(); void this.#createProduct(); });
    let pending;
    store.onChange((orderId) => {
      if (orderId === undefined || !this.#me) return;
      clearTimeout(pending);
      pending = setTimeout(() => { void this.refreshOrders(); }, 300);
    });
  }

  async show(me) {
    this.#me = me;
    await Promise.all([this.refreshProducts(), this.refreshOrders()]);
    clearInterval(this.#poll);
    this.#poll = setInterval(() => { void this.refreshOrders(); }, POLL_MS);
  }

  hide() {
    clearInterval(this.#poll);
    clearTimeout(this.#recheck);
    this.#me = undefined;
  }

  async refreshOrders() {
    try {
      await this.#store.load('/seller/orders');
      showError(this.#el.boardError, '');
    } catch (e) {
      showError(this.#el.boardError, e);
    }
  }

  async refreshProducts() {
    if (!this.#me) return;
    try {
      const page = await this.#api.get(`/products?limit=100&sellerId=${encodeURIComponent(this.#me.id)}`);
      this.#renderProducts(page.items);
    } catch (e) {
      showError(this.#el.stockError, e);
    }
  }

  #renderProducts(products) {
    fill(this.#el.myProducts, products.length === 0
      ? h('tr', {}, h('td', { colspan: 4, class: 'muted' }, 'No products yet: add one.'))
      : products.map((p) => this.#row(p)));
    clearTimeout(this.#recheck);
    if (products.some((p) => p.available === null)) this.#recheck = setTimeout(() => { void this.refreshProducts(); }, 1500);
  }

  #row(p) {
    const input = h('input', { type: 'number', min: 0, step: 1, value: p.available ?? '', 'aria-label': `Units of ${p.name}`, dataset: { testid: 'stock-input' } });
    const form = h('form', { novalidate: true }, input, h('button', { type: 'submit', class: 'secondary', dataset: { testid: 'stock-submit' } }, 'Set'));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      void busy(form, this.#el.stockError, async () => {
        await this.#api.put(`/products/${p.id}/stock`, { available: Number(input.value === '' ? NaN : input.value) });
        // The level goes through the stock processor; its answer shows on the next read.
        this.#recheck = setTimeout(() => { void this.refreshProducts(); }, 700);
      });
    });
    return h('tr', { dataset: { testid: 'my-product', productId: p.id, name: p.name } },
      h('td', {}, p.name), h('td', {}, formatMoney(p.price)),
      h('td', { dataset: { testid: 'my-product-available' } }, p.available === null ? '…' : String(p.available)),
      h('td', {}, form));
  }

  async #createProduct() {
    const { productForm: form, productError } = this.#el;
    const name = form.elements.name.value.trim();
    const price = toMinorUnits(form.elements.price.value);
    const stock = Number(form.elements.stock.value);
    if (price === undefined) { showError(productError, 'price: write an amount like 24.00'); return; }
    const created = await busy(form, productError, () => this.#api.post('/products', { name, price, stock }));
    if (!created) return;
    form.elements.name.value = '';
    form.elements.price.value = '';
    await this.refreshProducts();
  }
}

/** "24", "24.5", "24.50" → 2450; anything else → undefined. */
function toMinorUnits(text) {
  const m = /^\s*(\d+)(?:[.,](\d{1,2}))?\s*$/.exec(text);
  return m ? Number(m[1]) * 100 + Number((m[2] ?? '0').padEnd(2, '0')) : undefined;
}
