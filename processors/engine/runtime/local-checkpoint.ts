/**
 * Kafka Streams' `.checkpoint` file: in a task's state directory, the changelog offset up to which
 * each of its persistent stores holds its changelog. With one, a restart restores only the tail
 * past it; without one (first start, or a shutdown that was not clean), the store is wiped and
 * restored in full.
 *
 * When: written on a clean close only (a final commit that succeeded, then closing the task), and
 * deleted as soon as the task has restored, before it processes anything; so a crash at any
 * moment of a run leaves no file, under every guarantee. Kafka Streams does so under exactly_once;
 * under at_least_once it also writes one after commits and keeps it over a crash, accepting that
 * the store may then hold writes its changelog never got. We wipe instead: a persistent store then
 * always equals a replay of its changelog.
 */
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Where the changelog of one store stands: read from `offset` on to catch up. */
export interface StoreOffset {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
}

interface CheckpointFile {
  readonly version: 1;
  readonly stores: Record<string, StoreOffset>;
}

export const CHECKPOINT_FILE = '.checkpoint';

/** The offsets per store name; undefined when there is no file or it cannot be read. */
export function readLocalCheckpoint(taskDir: string): Map<string, StoreOffset> | undefined {
  let text: string;
  try {
    text = readFileSync(join(taskDir, CHECKPOINT_FILE), 'utf8');
  } catch {
    return undefined;
  }
  try {
    const file = JSON.parse(text) as CheckpointFile;
    if (file.version !== 1 || typeof file.stores !== 'object' || file.stores === null) return undefined;
    const out = new Map<string, StoreOffset>();
    for (const [name, o] of Object.entries(file.stores)) {
      if (typeof o?.topic === 'string' && Number.isInteger(o.partition) && Number.isInteger(o.offset) && o.offset >= 0) out.set(name, o);
    }
    return out;
  } catch {
    // A torn or foreign file proves nothing: restore in full.
    return undefined;
  }
}

/** Written to a temporary file and renamed, so that a crash while writing leaves the old state or the new. */
export function writeLocalCheckpoint(taskDir: string, stores: ReadonlyMap<string, StoreOffset>): void {
  mkdirSync(taskDir, { recursive: true });
  const file: CheckpointFile = { version: 1, stores: Object.fromEntries(stores) };
  const tmp = join(taskDir, `${CHECKPOINT_FILE}.tmp`);
  writeFileSync(tmp, JSON.stringify(file));
  renameSync(tmp, join(taskDir, CHECKPOINT_FILE));
}

export function deleteLocalCheckpoint(taskDir: string): void {
  rmSync(join(taskDir, CHECKPOINT_FILE), { force: true });
}
