/** Helpers every benchmark shares: the statistics they print and the wait for an outcome. */

/** The middle value (upper middle for an even count); rounds and samples are summarised by it. */
export const median = (xs: readonly number[]): number => percentile(xs, 0.5);

/** The value at fraction `q` of the sorted samples (nearest rank, q in [0, 1]). */
export function percentile(xs: readonly number[], q: number): number {
  if (xs.length === 0) throw new RangeError('percentile of no samples');
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/** Polls `condition` every 5 ms; throws with `what()` (say how far it got) after `timeoutMs`. */
export async function waitFor(condition: () => boolean, what: () => string, timeoutMs = 120_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what()}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
