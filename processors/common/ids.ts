/**
 * Deterministic event ids. An event a processor emits gets an id derived from what caused it, so
 * that reprocessing the same input after a crash (at_least_once) emits the same id and downstream
 * consumers can drop the copy by id.
 */
import { createHash } from 'node:crypto';

/** A UUID-formatted id (version 8, RFC 9562 "custom") hashed from the parts. */
export function derivedId(...parts: readonly (string | number)[]): string {
  const h = createHash('sha256').update(parts.join('\u0000')).digest();
  h[6] = (h[6]! & 0x0f) | 0x80;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const hex = h.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/**
 * A number in [0, 1) fixed by the seed and the id: simulated failures (payment declines, delivery
 * failures) decided by it are the same on every run and every broker, so a scenario's outcome
 * can be predicted and compared.
 */
export function chance(seed: string, id: string): number {
  return createHash('sha256').update(`${seed}\u0000${id}`).digest().readUInt32BE(0) / 2 ** 32;
}
