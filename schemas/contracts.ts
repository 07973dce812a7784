/**
 * The contract gate: compares local .avsc files with what the registry holds, registers them,
 * lists subjects. The CLI (contracts-cli.ts) is a thin shell over these functions.
 */
import { isDeepStrictEqual } from 'node:util';
import { RestError, type Client, type SchemaInfo } from '@confluentinc/schemaregistry';
import { checkEvolution, type Breakage, type CompatibilityLevel, type RegisteredVersion } from './compat.ts';
import { setSubjectLevel } from './compatibility.ts';

export { COMPATIBILITY_FILE, loadCompatibilityConfig, levelFor, type CompatibilityConfig } from './compatibility.ts';
import { TOPICS, schemaText, topicNames, valueSubject, type RecordName, type TopicName } from './topics.ts';

export interface Contract {
  /** The contract topic, as in topics.ts. */
  readonly name: TopicName;
  /** The topic with the prefix, if any. */
  readonly topic: string;
  readonly subject: string;
  readonly record: RecordName;
  /** Minified schema text. */
  readonly schema: string;
}

export type CheckStatus = 'new' | 'unchanged' | 'compatible' | 'incompatible';

export interface SubjectCheck {
  readonly subject: string;
  readonly level: CompatibilityLevel;
  readonly status: CheckStatus;
  /** Versions registered under the subject. */
  readonly versions: readonly number[];
  readonly breakages: readonly Breakage[];
  /** The registry's own verdict disagreed (it gives no reasons; see README). */
  readonly registryRefuses: boolean;
  /** The subject's level in the registry, when it refuses. */
  readonly registryLevel?: string;
}

export interface SubjectRegistration {
  readonly check: SubjectCheck;
  /** Set once registered (also for `unchanged`). */
  readonly id?: number;
  readonly version?: number;
  /** Why it was not registered. */
  readonly error?: string;
}

export interface SubjectListing {
  readonly subject: string;
  readonly versions: readonly { version: number; id: number }[];
  readonly compatibility: string | undefined;
}

/** Every topic's value contract; `prefix` is put before each topic name (tests, staging). */
export function contracts(prefix = ''): Contract[] {
  return topicNames().map((topic) => {
    const record = TOPICS[topic].record;
    return { name: topic, topic: `${prefix}${topic}`, subject: valueSubject(`${prefix}${topic}`), record, schema: schemaText(record) };
  });
}

/** Checks a schema against every registered version of its subject, under `level`. */
export async function checkSubject(
  client: Client,
  subject: string,
  schema: string,
  level: CompatibilityLevel,
): Promise<SubjectCheck> {
  const registered = await registeredVersions(client, subject);
  const versions = registered.map((v) => v.version);
  if (registered.length === 0) return { subject, level, status: 'new', versions, breakages: [], registryRefuses: false };
  const latest = registered[registered.length - 1];
  if (latest !== undefined && isDeepStrictEqual(JSON.parse(latest.schema), JSON.parse(schema))) {
    return { subject, level, status: 'unchanged', versions, breakages: [], registryRefuses: false };
  }
  const breakages = checkEvolution(schema, registered, level);
  const registryRefuses = (await registryVerdict(client, subject, schema)) === false;
  const status = breakages.length > 0 || registryRefuses ? 'incompatible' : 'compatible';
  const registryLevel = registryRefuses ? await client.getCompatibility(subject).catch(() => undefined) : undefined;
  return { subject, level, status, versions, breakages, registryRefuses, ...(registryLevel === undefined ? {} : { registryLevel }) };
}

/**
 * Checks, then registers under the subject and sets the subject's compatibility level in the
 * registry, so that the registry itself refuses what the gate refuses. Nothing is registered
 * when the check fails.
 */
export async function registerSubject(
  client: Client,
  subject: string,
  schema: string,
  level: CompatibilityLevel,
): Promise<SubjectRegistration> {
  const check = await checkSubject(client, subject, schema, level);
  if (check.status === 'incompatible') return { check, error: 'incompatible; not registered' };
  const info: SchemaInfo = { schemaType: 'AVRO', schema };
  try {
    // The level first, so that this registration is judged by it (Apicurio keeps a level
    // set for a subject that does not exist yet).
    await setSubjectLevel(client, subject, level);
    const id = await client.register(subject, info, false);
    const version = await client.getVersion(subject, info, false, false);
    return { check, id, version };
  } catch (err) {
    const refused = err instanceof RestError && err.status === 409;
    return { check, error: refused ? `the registry refused it as incompatible (${err.message})` : String(err) };
  }
}

export async function listSubjects(client: Client, prefix = ''): Promise<SubjectListing[]> {
  const subjects = (await client.getAllSubjects()).filter((s) => s.startsWith(prefix)).sort();
  const out: SubjectListing[] = [];
  for (const subject of subjects) {
    const versions: { version: number; id: number }[] = [];
    for (const version of await client.getAllVersions(subject)) {
      const meta = await client.getSchemaMetadata(subject, version, false);
      versions.push({ version, id: meta.id ?? Number.NaN });
    }
    let compatibility: string | undefined;
    try {
      const config = (await client.getConfig(subject)) as { compatibility?: string; compatibilityLevel?: string };
      compatibility = config.compatibilityLevel ?? config.compatibility;
    } catch {
      compatibility = undefined;
    }
    out.push({ subject, versions, compatibility });
  }
  return out;
}

/** A check as lines for people: what breaks, named by field, and against which version. */
export function formatCheck(check: SubjectCheck): string {
  const { subject, level, status, versions } = check;
  switch (status) {
    case 'new':
      return `${subject}: new subject, nothing to check against (${level})`;
    case 'unchanged':
      return `${subject}: unchanged (version ${versions[versions.length - 1] ?? '?'})`;
    case 'compatible':
      return `${subject}: compatible with version${versions.length === 1 ? '' : 's'} ${versions.join(', ')} (${level})`;
    case 'incompatible': {
      // One line per reason, with every version it breaks against.
      const byMessage = new Map<string, number[]>();
      for (const b of check.breakages) byMessage.set(b.message, [...(byMessage.get(b.message) ?? []), b.version]);
      const lines = [...byMessage].map(
        ([message, vs]) => `  ${subject}: ${message} (against version${vs.length === 1 ? '' : 's'} ${vs.join(', ')})`,
      );
      if (check.registryRefuses && lines.length === 0) {
        lines.push(`  ${subject}: the registry refuses it under its level for the subject (${check.registryLevel ?? 'unknown'}) and gives no reason; the ${level} check found none`);
      }
      return [`${subject}: INCOMPATIBLE (${level})`, ...lines].join('\n');
    }
  }
}

// ---- implementation ----

async function registeredVersions(client: Client, subject: string): Promise<RegisteredVersion[]> {
  let versions: number[];
  try {
    versions = await client.getAllVersions(subject);
  } catch (err) {
    if (err instanceof RestError && err.status === 404) return [];
    throw err;
  }
  const out: RegisteredVersion[] = [];
  for (const version of [...versions].sort((a, b) => a - b)) {
    const meta = await client.getSchemaMetadata(subject, version, false);
    out.push({ version, schema: meta.schema });
  }
  return out;
}

/** The registry's compatibility verdict against its latest version; undefined if it cannot say. */
async function registryVerdict(client: Client, subject: string, schema: string): Promise<boolean | undefined> {
  try {
    return await client.testSubjectCompatibility(subject, { schemaType: 'AVRO', schema });
  } catch {
    // The embedded MockClient does not implement compatibility checks.
    return undefined;
  }
}
