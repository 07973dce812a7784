/** How a process of the system ends (light: the PG simulator's process uses it too). */

/**
 * Keeps a process's lifetime: SIGTERM or SIGINT → `close`, exit 0; `stopped` rejecting (a
 * processor failed for good) → the reason on stderr, `close`, exit 2; a failing close → exit 1.
 */
export function exitOnSignalOrFailure(name: string, close: () => Promise<void>, stopped?: Promise<void>): void {
  let closing = false;
  const shutdown = (code: number) => {
    if (closing) return;
    closing = true;
    close().then(() => process.exit(code), (e: unknown) => {
      process.stderr.write(`[${name}] close failed: ${String(e)}\n`);
      process.exit(1);
    });
  };
  process.on('SIGTERM', () => shutdown(0));
  process.on('SIGINT', () => shutdown(0));
  stopped?.catch((e: unknown) => {
    process.stderr.write(`[${name}] failed: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
    shutdown(2);
  });
}
