/**
 * Opaque cursors over one sort field: base64url JSON of the last item's sort value and id, so
 * a page boundary inside equal values neither skips nor repeats a document.
 */
import { z } from 'zod';
import type { Scalar } from '../persistence/types.ts';
import { badRequest } from './errors.ts';

export const PageQuery = z.object({
  // Digits only: Number() would also take `0x10`, `1e1`, ` 10` and `1.0`.
  limit: z.string().regex(/^[0-9]{1,3}$/, { error: 'must be a whole number from 1 to 100' })
    .transform(Number).pipe(z.number().min(1, { error: 'must be a whole number from 1 to 100' }).max(100, { error: 'must be a whole number from 1 to 100' }))
    .optional().transform((n) => n ?? 20),
  cursor: z.string().max(500).optional(),
});

export function encodeCursor(value: Scalar, id: string): string {
  return Buffer.from(JSON.stringify([value, id])).toString('base64url');
}

export function decodeCursor(cursor: string | undefined): { value: Scalar; id: string } | undefined {
  if (cursor === undefined || cursor === '') return undefined;
  try {
    const parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(parsed) && parsed.length === 2 && typeof parsed[1] === 'string' && ['string', 'number'].includes(typeof parsed[0])) {
      return { value: parsed[0] as Scalar, id: parsed[1] };
    }
  } catch { /* reported below */ }
  throw badRequest('is not a cursor this API returned', 'cursor');
}

/** One page: asks for limit + 1 to know whether there is a next one. */
export function page<T>(items: readonly T[], limit: number, cursorOf: (last: T) => string): { items: T[]; nextCursor: string | null } {
  const shown = items.slice(0, limit);
  return { items: shown, nextCursor: items.length > limit && shown.length > 0 ? cursorOf(shown.at(-1)!) : null };
}
