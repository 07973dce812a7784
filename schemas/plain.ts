/**
 * avsc decodes records into instances of classes it generates; values leave the serdes and
 * codecs as plain objects instead: what the generated interfaces describe, and what spreading,
 * structuredClone and deepEqual expect.
 */
export function plain(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(plain);
  if (value === null || typeof value !== 'object' || Buffer.isBuffer(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = plain(v);
  return out;
}
