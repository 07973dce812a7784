/**
 * Prometheus file_sd target files for a set of processes: each process is one group
 * `{"targets":["host:port"],"labels":{"process":"order",…}}`. Prometheus re-reads every `*.json`
 * in its targets directory (every 2 s in the harness), so a run adds its processes by writing one
 * file and removes them by deleting it. Written to a temporary name and renamed, so Prometheus
 * never reads half a file.
 */
import { rm, writeFile, rename, mkdir } from 'node:fs/promises';
import { join } from 'node:path';

export interface ScrapeTarget {
  /** The `process` label: gateway, order, stock, payment, delivery, read-model… */
  readonly process: string;
  readonly port: number;
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** Further labels on every series of the target. */
  readonly labels?: Readonly<Record<string, string>>;
}

export interface FileSdGroup {
  readonly targets: string[];
  readonly labels: Record<string, string>;
}

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export function fileSdGroups(targets: readonly ScrapeTarget[]): FileSdGroup[] {
  return targets.map((t) => {
    if (!Number.isInteger(t.port) || t.port <= 0 || t.port > 65535) throw new RangeError(`target ${t.process}: port ${t.port} is not a TCP port`);
    const labels: Record<string, string> = { ...t.labels, process: t.process };
    for (const name of Object.keys(labels)) {
      // Names starting __ are Prometheus's own (except the documented __metrics_path__ & co.).
      if (!LABEL_NAME.test(name)) throw new RangeError(`target ${t.process}: ${JSON.stringify(name)} is not a Prometheus label name`);
    }
    const host = t.host ?? '127.0.0.1';
    return { targets: [`${host.includes(':') ? `[${host}]` : host}:${t.port}`], labels };
  });
}

/** Writes `<dir>/<name>.json`; resolves with its path (give it to removeTargets). */
export async function writeTargets(dir: string, name: string, targets: readonly ScrapeTarget[]): Promise<string> {
  if (!/^[\w.-]+$/.test(name)) throw new RangeError(`target file name ${JSON.stringify(name)}: letters, digits, _ . - only`);
  await mkdir(dir, { recursive: true });
  const path = join(dir, `${name}.json`);
  const temporary = join(dir, `.${name}.json.tmp`);
  await writeFile(temporary, `${JSON.stringify(fileSdGroups(targets), null, 2)}\n`);
  await rename(temporary, path);
  return path;
}

export async function removeTargets(path: string): Promise<void> {
  await rm(path, { force: true });
}
