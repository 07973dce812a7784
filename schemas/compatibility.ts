/**
 * Compatibility levels of the subjects: schemas/compatibility.json (the source of truth, in the
 * repository) and setting them in the registry.
 */
import { readFileSync } from 'node:fs';
import { Compatibility, RestError, type Client } from '@confluentinc/schemaregistry';
import { COMPATIBILITY_LEVELS, type CompatibilityLevel } from './compat.ts';

export interface CompatibilityConfig {
  readonly default: CompatibilityLevel;
  /** Per-subject levels, by subject name without any test prefix (e.g. `order-created-value`). */
  readonly subjects: Readonly<Record<string, CompatibilityLevel>>;
}

export const COMPATIBILITY_FILE = new URL('./compatibility.json', import.meta.url);

export function loadCompatibilityConfig(file: URL | string = COMPATIBILITY_FILE): CompatibilityConfig {
  const raw = JSON.parse(readFileSync(file, 'utf8')) as { default?: unknown; subjects?: Record<string, unknown> };
  const level = (value: unknown, where: string): CompatibilityLevel => {
    if (typeof value === 'string' && (COMPATIBILITY_LEVELS as readonly string[]).includes(value)) return value as CompatibilityLevel;
    throw new Error(`${String(file)}: ${where} is ${JSON.stringify(value)}, not one of ${COMPATIBILITY_LEVELS.join(', ')}`);
  };
  const subjects: Record<string, CompatibilityLevel> = {};
  for (const [subject, value] of Object.entries(raw.subjects ?? {})) subjects[subject] = level(value, `subjects.${subject}`);
  return { default: level(raw.default, 'default'), subjects };
}

/** The configured level of a subject; `prefix` is stripped before looking it up. */
export function levelFor(config: CompatibilityConfig, subject: string, prefix = ''): CompatibilityLevel {
  const bare = prefix !== '' && subject.startsWith(prefix) ? subject.slice(prefix.length) : subject;
  return config.subjects[bare] ?? config.default;
}

/**
 * Sets a subject's level in the registry (Apicurio's echo lacks `compatibility`, so it is not read).
 *
 * Apicurio stores the level as a rule that the first PUT creates: when two processes set a new
 * subject's level at once, the loser gets 409 "A rule named 'COMPATIBILITY' already exists"
 * (seen in CI with two instances of one service starting together). Asked again, the rule now
 * exists and the PUT updates it, so a 409 is retried a few times before it is believed.
 */
export async function setSubjectLevel(client: Client, subject: string, level: CompatibilityLevel): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await client.updateConfig(subject, { compatibility: Compatibility[level] });
      return;
    } catch (err) {
      if (!(err instanceof RestError && err.status === 409) || attempt >= LEVEL_ATTEMPTS) throw err;
    }
  }
}

const LEVEL_ATTEMPTS = 4;
