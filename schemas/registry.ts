/**
 * Which schema registry a process talks to. With SCHEMA_REGISTRY_URL set, a Confluent-compatible
 * registry over HTTP (Confluent Schema Registry, or e.g. Apicurio's /apis/ccompat/v7); without
 * it, the client library's in-process registry (MockClient), one per process, so that every
 * serde of the in-memory main job agrees on schema ids.
 */
import { MockClient, SchemaRegistryClient, type Client } from '@confluentinc/schemaregistry';

export interface Registry {
  readonly client: Client;
  /** `remote`: an HTTP registry; `embedded`: in process, gone when the process ends. */
  readonly kind: 'remote' | 'embedded';
  /** The remote registry's base URL; undefined when embedded. */
  readonly url: string | undefined;
}

let embedded: Registry | undefined;
const remotes = new Map<string, Registry>();

/**
 * Picks the registry from the environment: SCHEMA_REGISTRY_URL (comma-separated base URLs)
 * → remote; unset or empty → embedded. Same URL, same client (its schema/id caches are shared).
 */
export function registryFromEnv(env: NodeJS.ProcessEnv = process.env): Registry {
  const url = env.SCHEMA_REGISTRY_URL?.trim() ?? '';
  if (url === '') {
    embedded ??= embeddedRegistry();
    return embedded;
  }
  let registry = remotes.get(url);
  if (registry === undefined) {
    registry = remoteRegistry(url);
    remotes.set(url, registry);
  }
  return registry;
}

/** A new, empty in-process registry (tests that want isolation use this directly). */
export function embeddedRegistry(): Registry {
  return { client: new MockClient({ baseURLs: ['mock://embedded'] }), kind: 'embedded', url: undefined };
}

/** A client of the HTTP registry at `url` (comma-separated base URLs for several nodes). */
export function remoteRegistry(url: string): Registry {
  const baseURLs = url.split(',').map((u) => u.trim().replace(/\/+$/, '')).filter(Boolean);
  return { client: new SchemaRegistryClient({ baseURLs }), kind: 'remote', url: baseURLs.join(',') };
}
