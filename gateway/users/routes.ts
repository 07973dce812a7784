/**
 * Who may see whom (DOMAIN.md): a buyer's details are visible to the buyer and to a seller the
 * buyer has ordered from; anyone else gets 404, never 403, so that an id's existence is not
 * confirmed. Profile changes are published to `users-topic` like sign-ups.
 */
import { z } from 'zod';
import type { GatewayContext } from '../context.ts';
import { notFound } from '../errors.ts';
import { route, type RouteSpec } from '../routing.ts';
import { profileOf, UserProfile, UserSummary, userEvent } from '../auth/routes.ts';
import { canSeeUser } from '../orders/access.ts';

const UserParams = z.object({ userId: z.string().max(100) });
const ProfilePatch = z.strictObject({
  name: z.string().trim().min(1, { error: 'must not be empty' }).max(100).optional(),
  phone: z.string().trim().max(40).regex(/^[+0-9 ()-]*$/, { error: 'must be a phone number' }).nullable().optional(),
}).openapi('ProfilePatch');

export function userRoutes(g: GatewayContext): RouteSpec[] {
  return [
    route({
      method: 'get', path: '/auth/user/{userId}', summary: 'A user as the caller may see them', tag: 'users', access: 'user',
      params: UserParams,
      responses: { 200: { description: 'The user', schema: UserSummary } },
      handler: async ({ params, principal }) => {
        const user = await g.db.users.get(params.userId);
        if (!user || !(await canSeeUser(g.db, principal!, user._id))) throw notFound('user');
        return { status: 200, body: { id: user._id, role: user.role, email: user.email } };
      },
    }),
    route({
      method: 'get', path: '/users/me', summary: 'The caller\'s own profile', tag: 'users', access: 'user',
      responses: { 200: { description: 'The profile', schema: UserProfile } },
      handler: async ({ principal }) => {
        const user = await g.db.users.get(principal!.userId);
        if (!user) throw notFound('user');
        return { status: 200, body: profileOf(user) };
      },
    }),
    route({
      method: 'patch', path: '/users/me', summary: 'Change name or phone (published to users-topic)', tag: 'users', access: 'user',
      body: ProfilePatch,
      responses: { 200: { description: 'The new profile', schema: UserProfile } },
      handler: async ({ principal, body }) => {
        const user = await g.db.users.get(principal!.userId);
        if (!user) throw notFound('user');
        const next = { ...user, ...(body.name !== undefined ? { name: body.name } : {}), ...(body.phone !== undefined ? { phone: body.phone } : {}), updatedAt: g.now() };
        // Topic first: a profile the order side never heard of is worse than a retried request.
        await g.events.publish('users-topic', userEvent(next));
        await g.db.users.update(user._id, { name: next.name, phone: next.phone, updatedAt: next.updatedAt });
        return { status: 200, body: profileOf(next) };
      },
    }),
  ];
}
