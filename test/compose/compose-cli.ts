/**
 * The compose files as docker-compose resolves them (anchors merged, variables substituted,
 * paths absolute), through the `docker-compose` binary: no Docker engine is needed for
 * `config`. Debian ships v1 (Python), whose `config` prints YAML only; no YAML library is
 * installed for Node, so that YAML goes through the PyYAML v1 itself depends on. v2 prints JSON.
 * Both shapes are normalised to `ComposeModel`.
 */
import { spawnSync } from 'node:child_process';

export interface ComposeService {
  readonly name: string;
  readonly image: string | undefined;
  readonly build: { readonly context: string; readonly dockerfile: string } | undefined;
  readonly command: readonly string[];
  readonly environment: Readonly<Record<string, string>>;
  /** Published ports: the container side, and the host side when given. */
  readonly ports: readonly { readonly target: number; readonly published: number | undefined }[];
  /** Each dependency and its condition (`service_started` when the file gives none). */
  readonly dependsOn: Readonly<Record<string, string>>;
  /** The check's command, undefined when there is none or it is disabled. */
  readonly healthcheck: readonly string[] | undefined;
  readonly networkMode: string | undefined;
  readonly volumes: readonly { readonly type: 'volume' | 'bind'; readonly source: string | undefined; readonly target: string; readonly readOnly: boolean }[];
}

export interface ComposeModel {
  readonly services: ReadonlyMap<string, ComposeService>;
  readonly volumes: ReadonlySet<string>;
}

export interface ComposeRun {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** The binary, or undefined when it is not installed (`bash scripts/services up` installs it). */
export function composeBinary(): string | undefined {
  const r = spawnSync('docker-compose', ['version'], { encoding: 'utf8' });
  return r.status === 0 ? 'docker-compose' : undefined;
}

/** Runs `docker-compose -f file …args` in `cwd` with only PATH, HOME and `env`. */
export function compose(binary: string, cwd: string, file: string, args: readonly string[], env: Readonly<Record<string, string>>): ComposeRun {
  const r = spawnSync(binary, ['-f', file, ...args], {
    cwd,
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', ...env },
  });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The resolved file: v2's JSON, or v1's YAML read by PyYAML. Throws with docker-compose's words. */
export function resolvedConfig(binary: string, cwd: string, file: string, env: Readonly<Record<string, string>>): ComposeModel {
  // v1 answers an unknown option with its usage text and status 0: JSON is recognised by its brace.
  const json = compose(binary, cwd, file, ['config', '--format', 'json'], env);
  if (json.status === 0 && json.stdout.trimStart().startsWith('{')) return normalise(JSON.parse(json.stdout));
  const yaml = compose(binary, cwd, file, ['config'], env);
  if (yaml.status !== 0) throw new Error(`docker-compose -f ${file} config failed: ${yaml.stderr.trim()}`);
  const py = spawnSync('python3', ['-c', 'import sys, json, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)'], { input: yaml.stdout, encoding: 'utf8' });
  if (py.status !== 0) throw new Error(`reading docker-compose's YAML with python3 + PyYAML failed: ${py.stderr || py.error?.message}`);
  return normalise(JSON.parse(py.stdout));
}

type Raw = Record<string, unknown>;

function normalise(raw: unknown): ComposeModel {
  const file = asObject(raw, 'the file');
  const services = new Map<string, ComposeService>();
  for (const [name, value] of Object.entries(asObject(file.services ?? {}, 'services'))) services.set(name, service(name, asObject(value, name)));
  return { services, volumes: new Set(Object.keys(asObject(file.volumes ?? {}, 'volumes'))) };
}

function service(name: string, s: Raw): ComposeService {
  const build = s.build === undefined ? undefined : asObject(s.build, `${name}.build`);
  const health = s.healthcheck === undefined ? undefined : asObject(s.healthcheck, `${name}.healthcheck`);
  return {
    name,
    image: typeof s.image === 'string' ? s.image : undefined,
    build: build && { context: String(build.context), dockerfile: typeof build.dockerfile === 'string' ? build.dockerfile : 'Dockerfile' },
    command: commandOf(s.command),
    environment: environmentOf(s.environment),
    ports: ((s.ports ?? []) as unknown[]).map(portOf),
    dependsOn: dependsOnOf(s.depends_on),
    healthcheck: health && health.disable !== true && health.test !== undefined ? commandOf(health.test) : undefined,
    networkMode: typeof s.network_mode === 'string' ? s.network_mode : undefined,
    volumes: ((s.volumes ?? []) as unknown[]).map(volumeOf),
  };
}

function commandOf(c: unknown): string[] {
  if (c === undefined || c === null) return [];
  if (typeof c === 'string') return ['CMD-SHELL', c];
  return (c as unknown[]).map(String);
}

function environmentOf(e: unknown): Record<string, string> {
  if (e === undefined || e === null) return {};
  if (Array.isArray(e)) return Object.fromEntries(e.map((kv: string) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
  return Object.fromEntries(Object.entries(asObject(e, 'environment')).map(([k, v]) => [k, v === null ? '' : String(v)]));
}

function portOf(p: unknown): { target: number; published: number | undefined } {
  if (typeof p === 'object' && p !== null) {
    const o = p as Raw;
    return { target: Number(o.target), published: o.published === undefined ? undefined : Number(o.published) };
  }
  // v1 short syntax: "[host:]published:target[/proto]" or "target".
  const parts = String(p).split('/')[0]!.split(':');
  return { target: Number(parts.at(-1)), published: parts.length > 1 ? Number(parts.at(-2)) : undefined };
}

function dependsOnOf(d: unknown): Record<string, string> {
  if (d === undefined || d === null) return {};
  if (Array.isArray(d)) return Object.fromEntries(d.map((n: string) => [n, 'service_started']));
  return Object.fromEntries(Object.entries(asObject(d, 'depends_on')).map(([k, v]) => [k, String(asObject(v ?? {}, k).condition ?? 'service_started')]));
}

function volumeOf(v: unknown): { type: 'volume' | 'bind'; source: string | undefined; target: string; readOnly: boolean } {
  if (typeof v === 'object' && v !== null) {
    const o = v as Raw;
    return { type: o.type === 'bind' ? 'bind' : 'volume', source: typeof o.source === 'string' ? o.source : undefined, target: String(o.target), readOnly: o.read_only === true };
  }
  // v1 short syntax: "source:target[:mode]" or "target"; a source with a slash is a host path.
  const parts = String(v).split(':');
  if (parts.length === 1) return { type: 'volume', source: undefined, target: parts[0]!, readOnly: false };
  return { type: parts[0]!.includes('/') ? 'bind' : 'volume', source: parts[0], target: parts[1]!, readOnly: parts[2] === 'ro' };
}

function asObject(v: unknown, what: string): Raw {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error(`${what}: expected a mapping in docker-compose's output`);
  return v as Raw;
}
