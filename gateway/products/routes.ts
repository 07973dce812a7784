/**
 * The catalogue. A seller creates products and sets their stock; each level goes to
 * `stock-levels-topic` for the stock processor, which owns the number. Units left come from the
 * stock processor's state as projected (`stock` read model), never computed here.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { ProductDoc, StockView } from '../../processors/read-model/views.ts';
import type { GatewayContext } from '../context.ts';
import { forbidden, notFound } from '../errors.ts';
import { decodeCursor, encodeCursor, page, PageQuery } from '../pagination.ts';
import { route, type RouteSpec } from '../routing.ts';

const MAX_UNITS = 1_000_000_000;
const Units = z.number({ error: 'must be a number' }).int({ error: 'must be a non-negative integer' }).min(0, { error: 'must be a non-negative integer' }).max(MAX_UNITS);

const NewProduct = z.strictObject({
  name: z.string().trim().min(1, { error: 'must not be empty' }).max(200),
  price: z.number({ error: 'must be a number' }).int({ error: 'must be a positive integer (minor units)' }).positive({ error: 'must be a positive integer (minor units)' }).max(100_000_000),
  stock: Units,
}).openapi('NewProduct');
const StockBody = z.strictObject({ available: Units }).openapi('StockLevelRequest');
// UUIDs are case-insensitive; ids are stored in lower case.
const ProductParams = z.object({ id: z.string().max(100).transform((id) => id.toLowerCase()) });

export const Product = z.object({
  id: z.uuid(), sellerId: z.uuid(), name: z.string(), price: z.number().int(),
  available: z.number().int().nullable().openapi({ description: 'Units left as the stock processor holds them; null until it has reported' }),
  createdAt: z.string(),
}).openapi('Product');
const ProductPage = z.object({ items: z.array(Product), nextCursor: z.string().nullable() }).openapi('ProductPage');
const StockAccepted = z.object({ productId: z.uuid(), available: z.number().int(), status: z.literal('ACCEPTED') }).openapi('StockLevelAccepted');

function view(p: ProductDoc, stock: StockView | undefined) {
  return { id: p._id, sellerId: p.sellerId, name: p.name, price: p.price, available: stock?.available ?? null, createdAt: new Date(p.createdAt).toISOString() };
}

export function productRoutes(g: GatewayContext): RouteSpec[] {
  const withStock = async (products: readonly ProductDoc[]) => {
    const levels = products.length === 0 ? [] : await g.db.stock.find({ _id: { $in: products.map((p) => p._id) } });
    const byId = new Map(levels.map((l) => [l._id, l]));
    return products.map((p) => view(p, byId.get(p._id)));
  };
  const setLevel = (p: ProductDoc, available: number) =>
    g.events.publish('stock-levels-topic', { productId: p._id, sellerId: p.sellerId, available, updatedAt: g.now() });

  return [
    route({
      method: 'post', path: '/products', summary: 'Create a product with its initial stock', tag: 'products', access: 'SELLER',
      body: NewProduct,
      responses: { 201: { description: 'Created', schema: Product, headers: ['Location'] } },
      handler: async ({ body, principal }) => {
        const product: ProductDoc = { _id: randomUUID(), productId: '', sellerId: principal!.userId, name: body.name, price: body.price, createdAt: g.now() };
        const doc = { ...product, productId: product._id };
        await g.db.products.insert(doc);
        try {
          await setLevel(doc, body.stock);
        } catch (e) {
          await g.db.products.delete(doc._id);
          throw e;
        }
        return { status: 201, body: view(doc, undefined), headers: { Location: `/products/${doc._id}` } };
      },
    }),
    route({
      method: 'put', path: '/products/{id}/stock', summary: 'Set a product\'s units available (the seller\'s own products only)', tag: 'products', access: 'SELLER',
      params: ProductParams, body: StockBody,
      responses: { 202: { description: 'Handed to the stock processor', schema: StockAccepted } },
      handler: async ({ params, body, principal }) => {
        const product = await g.db.products.get(params.id);
        if (!product) throw notFound('product');
        if (product.sellerId !== principal!.userId) throw forbidden('only the product\'s seller may set its stock');
        await setLevel(product, body.available);
        return { status: 202, body: { productId: product._id, available: body.available, status: 'ACCEPTED' } };
      },
    }),
    route({
      method: 'get', path: '/products', summary: 'The public catalogue, newest first', tag: 'products', access: 'public',
      query: PageQuery.extend({ sellerId: z.string().max(100).optional() }),
      responses: { 200: { description: 'A page of products', schema: ProductPage } },
      handler: async ({ query }) => {
        const after = decodeCursor(query.cursor);
        const found = await g.db.products.find(query.sellerId ? { sellerId: query.sellerId } : {}, {
          sort: { field: 'createdAt', direction: 'desc' }, limit: query.limit + 1, ...(after ? { after } : {}),
        });
        const shown = page(found, query.limit, (p) => encodeCursor(p.createdAt, p._id));
        return { status: 200, body: { items: await withStock(shown.items), nextCursor: shown.nextCursor } };
      },
    }),
    route({
      method: 'get', path: '/products/{id}', summary: 'One product with its units left', tag: 'products', access: 'public',
      params: ProductParams,
      responses: { 200: { description: 'The product', schema: Product } },
      handler: async ({ params }) => {
        const product = await g.db.products.get(params.id);
        if (!product) throw notFound('product');
        return { status: 200, body: (await withStock([product]))[0] };
      },
    }),
  ];
}
