/** Sign-up, login, refresh (rotation) and logout; users are published to `users-topic`. */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { DuplicateKeyError } from '../../persistence/errors.ts';
import type { User } from '../../schemas/index.ts';
import type { UserDoc } from '../collections.ts';
import type { GatewayContext } from '../context.ts';
import { conflict, unauthorized } from '../errors.ts';
import { route, type RouteSpec } from '../routing.ts';
import { hashPassword, verifyAgainstDummy, verifyPassword } from './passwords.ts';

const Email = z.string().trim().toLowerCase().max(254).email({ error: 'must be an email address' });
const Role = z.enum(['BUYER', 'SELLER'], { error: 'must be BUYER or SELLER' });

export const SignupBody = z.strictObject({
  email: Email,
  password: z.string().min(8, { error: 'must be at least 8 characters' }).max(200, { error: 'must be at most 200 characters' }),
  name: z.string().trim().min(1, { error: 'must not be empty' }).max(100),
  role: Role,
  phone: z.string().trim().max(40).regex(/^[+0-9 ()-]*$/, { error: 'must be a phone number' }).optional(),
}).openapi('SignupRequest');

const LoginBody = z.strictObject({ email: Email, password: z.string().min(1, { error: 'must not be empty' }).max(200) }).openapi('LoginRequest');
const RefreshBody = z.strictObject({ refreshToken: z.string().min(1).max(4096) }).openapi('RefreshRequest');

export const UserSummary = z.object({ id: z.uuid(), role: Role, email: z.string() }).openapi('UserSummary');
export const UserProfile = UserSummary.extend({ name: z.string(), phone: z.string().nullable() }).openapi('UserProfile');
const Tokens = z.object({
  accessToken: z.string(), refreshToken: z.string(), tokenType: z.literal('Bearer'), expiresIn: z.number().int(),
}).openapi('Tokens');

export function profileOf(u: UserDoc) {
  return { id: u._id, role: u.role, email: u.email, name: u.name, phone: u.phone };
}

export function userEvent(u: UserDoc): User {
  return { id: u._id, email: u.email, role: u.role, name: u.name, phone: u.phone, updatedAt: u.updatedAt };
}

export function authRoutes(g: GatewayContext): RouteSpec[] {
  return [
    route({
      method: 'post', path: '/auth/signup', summary: 'Create an account (published to users-topic)', tag: 'auth', access: 'public',
      body: SignupBody,
      responses: { 201: { description: 'Created', schema: UserProfile, headers: ['Location'] }, 409: { description: 'Email already registered' } },
      handler: async ({ body }) => {
        const now = g.now();
        const user: UserDoc = {
          _id: randomUUID(), email: body.email, role: body.role, name: body.name, phone: body.phone ?? null,
          passwordHash: await hashPassword(body.password), createdAt: now, updatedAt: now,
        };
        try {
          await g.db.users.insert(user);
        } catch (e) {
          if (e instanceof DuplicateKeyError) throw conflict('email is already registered', 'email');
          throw e;
        }
        try {
          await g.events.publish('users-topic', userEvent(user));
        } catch (e) {
          // Not on the topic, the order side would never know the user: undo, let the client retry.
          await g.db.users.delete(user._id);
          throw e;
        }
        return { status: 201, body: profileOf(user), headers: { Location: `/auth/user/${user._id}` } };
      },
    }),
    route({
      method: 'post', path: '/auth/login', summary: 'Log in: an access token and a refresh token', tag: 'auth', access: 'public',
      body: LoginBody,
      responses: { 200: { description: 'Logged in', schema: Tokens }, 401: { description: 'Wrong email or password' } },
      handler: async ({ body, ctx }) => {
        await g.limiter.admit(body.email, ctx.ip);
        const user = await g.db.users.findOne({ email: body.email });
        const ok = user ? await verifyPassword(body.password, user.passwordHash) : await verifyAgainstDummy(body.password);
        if (!user || !ok) {
          await g.limiter.failed(body.email, ctx.ip);
          throw unauthorized('wrong email or password');
        }
        await g.limiter.succeeded(body.email);
        return { status: 200, body: await g.sessions.start({ userId: user._id, role: user.role }, g.now()) };
      },
    }),
    route({
      method: 'post', path: '/auth/refresh', summary: 'Rotate a refresh token (a used one revokes its whole family)', tag: 'auth', access: 'public',
      body: RefreshBody,
      responses: { 200: { description: 'New tokens', schema: Tokens }, 401: { description: 'Invalid, expired, revoked or reused refresh token' } },
      handler: async ({ body }) => ({ status: 200, body: await g.sessions.refresh(body.refreshToken, g.now()) }),
    }),
    route({
      method: 'post', path: '/auth/logout', summary: 'Revoke the login of a refresh token', tag: 'auth', access: 'public',
      body: RefreshBody,
      responses: { 204: { description: 'Logged out' }, 401: { description: 'Invalid refresh token' } },
      handler: async ({ body }) => {
        await g.sessions.end(body.refreshToken);
        return { status: 204 };
      },
    }),
  ];
}
