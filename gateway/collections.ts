/**
 * The collections the gateway owns and writes (the read models it only reads are in
 * processors/read-model/views.ts). Indexes are declared here and created when opened.
 */
import type { Collection, CollectionSpec, Persistence } from '../persistence/types.ts';
import {
  CHAT_VIEW, ORDERS_VIEW, PRODUCTS_COLLECTION, STOCK_VIEW, type ChatView, type OrderView, type ProductDoc, type StockView,
} from '../processors/read-model/views.ts';
import type { UserRole } from '../schemas/index.ts';

export interface UserDoc {
  readonly _id: string;
  readonly email: string;
  readonly role: UserRole;
  readonly name: string;
  readonly phone: string | null;
  /** `scrypt$…` (auth/passwords.ts). */
  readonly passwordHash: string;
  readonly createdAt: number;
  readonly updatedAt: number;
}

/** One login: every refresh token rotated from it belongs to the family; reuse revokes it whole. */
export interface TokenFamilyDoc {
  readonly _id: string;
  readonly userId: string;
  readonly revoked: boolean;
  readonly revokedReason: string | null;
  readonly createdAt: number;
  readonly expiresAt: number;
}

export interface RefreshTokenDoc {
  readonly _id: string;
  readonly familyId: string;
  readonly userId: string;
  readonly used: boolean;
  readonly expiresAt: number;
}

export interface IdempotencyDoc {
  /** `<userId>:<route>:<key>`. */
  readonly _id: string;
  readonly requestHash: string;
  readonly state: 'IN_FLIGHT' | 'DONE';
  readonly startedAt: number;
  readonly reply: { readonly status: number; readonly body: unknown; readonly headers: Readonly<Record<string, string>> } | null;
  readonly expiresAt: number;
}

export const USERS: CollectionSpec = { name: 'users', indexes: [{ fields: ['email'], unique: true }] };
export const TOKEN_FAMILIES: CollectionSpec = { name: 'token_families', indexes: [{ fields: ['userId'] }], expiresAtField: 'expiresAt' };
export const REFRESH_TOKENS: CollectionSpec = { name: 'refresh_tokens', indexes: [{ fields: ['familyId'] }], expiresAtField: 'expiresAt' };
export const IDEMPOTENCY_KEYS: CollectionSpec = { name: 'idempotency_keys', expiresAtField: 'expiresAt' };

export interface Collections {
  readonly users: Collection<UserDoc>;
  readonly families: Collection<TokenFamilyDoc>;
  readonly refreshTokens: Collection<RefreshTokenDoc>;
  readonly idempotency: Collection<IdempotencyDoc>;
  readonly products: Collection<ProductDoc>;
  /** Read models: the projection writes them. */
  readonly orders: Collection<OrderView>;
  readonly stock: Collection<StockView>;
  readonly chat: Collection<ChatView>;
}

export async function openCollections(db: Persistence): Promise<Collections> {
  const [users, families, refreshTokens, idempotency, products, orders, stock, chat] = await Promise.all([
    db.collection<UserDoc>(USERS), db.collection<TokenFamilyDoc>(TOKEN_FAMILIES), db.collection<RefreshTokenDoc>(REFRESH_TOKENS),
    db.collection<IdempotencyDoc>(IDEMPOTENCY_KEYS), db.collection<ProductDoc>(PRODUCTS_COLLECTION),
    db.collection<OrderView>(ORDERS_VIEW), db.collection<StockView>(STOCK_VIEW), db.collection<ChatView>(CHAT_VIEW),
  ]);
  return { users, families, refreshTokens, idempotency, products, orders, stock, chat };
}
