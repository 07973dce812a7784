/** Reading a process's configuration from the environment (light: the PG simulator uses it too). */

export type Env = Readonly<Record<string, string | undefined>>;

/** A number from the environment; unset or blank → `fallback`; anything else not a number is an error. */
export function numberFromEnv(env: Env, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n)) throw new Error(`${name} must be a number, not ${JSON.stringify(raw)}`);
  return n;
}
