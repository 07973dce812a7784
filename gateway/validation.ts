/**
 * Request validation with zod: the same schemas generate `/openapi.json` (routing.ts), so the
 * document cannot drift from what is enforced. A failure is a 400 whose message names the field
 * path the way a client writes it: `lines[1].quantity: must be a positive integer`.
 */
import type { z } from 'zod';
import { badRequest } from './errors.ts';

export function parseOrThrow<S extends z.ZodType>(schema: S, input: unknown, where: 'body' | 'query' | 'params' | 'headers'): z.infer<S> {
  const result = schema.safeParse(input, { reportInput: true });
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const path = issue.code === 'unrecognized_keys' ? [...issue.path, issue.keys[0] ?? ''] : issue.path;
  const field = fieldPath(path) || (where === 'body' ? 'body' : where);
  throw badRequest(describe(issue), field);
}

/** `['lines', 1, 'quantity']` → `lines[1].quantity`. */
export function fieldPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out;
}

function describe(issue: z.core.$ZodIssue): string {
  if (issue.code !== 'unrecognized_keys' && 'input' in issue && issue.input === undefined) return 'is required';
  switch (issue.code) {
    case 'unrecognized_keys': return 'is not a known field';
    case 'invalid_type':
      // A schema's own message ("must be a positive integer") says more than the type's name.
      return issue.message.startsWith('Invalid input') ? `must be ${article(issue.expected)}` : issue.message;
    default: return issue.message;
  }
}

function article(expected: string): string {
  if (expected === 'int') return 'an integer';
  if (expected === 'object' || expected === 'array') return `an ${expected}`;
  return `a ${expected}`;
}
