/**
 * Which persistence a process uses, from its environment:
 *
 * | variable | meaning | default |
 * | --- | --- | --- |
 * | `PERSISTENCE` | `embedded` or `mongo` | `mongo` when `MONGO_URL` is set, else `embedded` |
 * | `MONGO_URL` | the MongoDB (or FerretDB) URL | `mongodb://127.0.0.1:27017` |
 * | `MONGO_DB` | the database | `orderstream` |
 * | `MONGO_TIMEOUT_MS` | how long an operation waits for the server before failing as unavailable (the gateway answers 503) | `10000` |
 * | `DATA_DIR` | the embedded store's directory, relative to the current one | `.data/embedded` |
 */
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { embeddedPersistence } from './embedded.ts';
import { mongoPersistence } from './mongo.ts';
import type { Persistence } from './types.ts';

export type PersistenceConfig =
  | { readonly kind: 'embedded'; readonly path: string }
  | { readonly kind: 'mongo'; readonly url: string; readonly database: string; readonly timeoutMs?: number };

type Env = Readonly<Record<string, string | undefined>>;

export function persistenceFromEnv(env: Env): Persistence {
  const config = persistenceConfigFromEnv(env);
  return config.kind === 'embedded'
    ? embeddedPersistence({ path: config.path })
    : mongoPersistence({ url: config.url, database: config.database, ...(config.timeoutMs === undefined ? {} : { serverSelectionTimeoutMS: config.timeoutMs }) });
}

/** Reads and checks the variables; each error names the variable at fault. */
export function persistenceConfigFromEnv(env: Env, cwd = process.cwd()): PersistenceConfig {
  const mongoUrl = set(env.MONGO_URL);
  const kind = set(env.PERSISTENCE) ?? (mongoUrl ? 'mongo' : 'embedded');
  if (kind === 'mongo') {
    const url = mongoUrl ?? 'mongodb://127.0.0.1:27017';
    if (!/^mongodb(\+srv)?:\/\/[^/?#]+/.test(url)) {
      throw new Error(`MONGO_URL must be a mongodb:// or mongodb+srv:// URL with a host, not ${JSON.stringify(url)}`);
    }
    const database = set(env.MONGO_DB) ?? 'orderstream';
    // MongoDB's rules for database names.
    if (database.length > 63 || /[/\\. "$*<>:|?\0]/.test(database)) {
      throw new Error(`MONGO_DB must be a database name (at most 63 characters, none of /\\. "$*<>:|?), not ${JSON.stringify(database)}`);
    }
    const timeout = set(env.MONGO_TIMEOUT_MS);
    if (timeout === undefined) return { kind, url, database };
    const timeoutMs = Number(timeout);
    if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) throw new Error(`MONGO_TIMEOUT_MS must be a positive whole number of milliseconds, not ${JSON.stringify(timeout)}`);
    return { kind, url, database, timeoutMs };
  }
  if (kind !== 'embedded') throw new Error(`PERSISTENCE must be "embedded" or "mongo", not ${JSON.stringify(env.PERSISTENCE)}`);
  const raw = set(env.DATA_DIR);
  if (raw?.includes('\0')) throw new Error(`DATA_DIR must be a directory path, not ${JSON.stringify(raw)}`);
  const path = resolve(cwd, raw ?? '.data/embedded');
  const existing = statSync(path, { throwIfNoEntry: false });
  if (existing && !existing.isDirectory()) throw new Error(`DATA_DIR must be a directory: ${path} is not one`);
  return { kind, path };
}

/** Unset or blank is unset. */
function set(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}
