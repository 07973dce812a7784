/**
 * Demo data for the embedded default, created through the gateway's own API (so the demo users
 * are on users-topic and the products' levels on stock-levels-topic like anyone else's).
 */
export interface DemoLogin {
  readonly email: string;
  readonly password: string;
  readonly role: 'BUYER' | 'SELLER';
}

export const DEMO_SELLER: DemoLogin = { email: 'seller@example.com', password: 'demo-seller-pass', role: 'SELLER' };
export const DEMO_BUYER: DemoLogin = { email: 'buyer@example.com', password: 'demo-buyer-pass', role: 'BUYER' };

const PRODUCTS = [
  { name: 'Espresso beans, 1 kg', price: 2400, stock: 500 },
  { name: 'Pour-over kettle', price: 5900, stock: 40 },
  { name: 'Ceramic dripper', price: 2100, stock: 120 },
  { name: 'Hand grinder', price: 8900, stock: 3 },
];

export async function seedDemo(url: string): Promise<void> {
  await signup(url, DEMO_SELLER, 'Demo Seller', '+1 555 0100');
  await signup(url, DEMO_BUYER, 'Demo Buyer', '+1 555 0199');
  const token = await login(url, DEMO_SELLER);
  for (const p of PRODUCTS) await call(url, 'POST', '/products', p, token);
}

async function signup(url: string, who: DemoLogin, name: string, phone: string): Promise<void> {
  await call(url, 'POST', '/auth/signup', { email: who.email, password: who.password, role: who.role, name, phone });
}

async function login(url: string, who: DemoLogin): Promise<string> {
  const r = await call(url, 'POST', '/auth/login', { email: who.email, password: who.password }) as { accessToken: string };
  return r.accessToken;
}

async function call(url: string, method: string, path: string, body: unknown, token?: string): Promise<unknown> {
  const res = await fetch(`${url}${path}`, {
    method, body: JSON.stringify(body),
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`seeding: ${method} ${path} → ${res.status} ${text}`);
  return text ? JSON.parse(text) as unknown : undefined;
}
