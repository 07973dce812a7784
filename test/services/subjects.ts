/**
 * Test cleanup for registry subjects. Soft delete only: on Apicurio 3.0.9 a permanent delete
 * removes the subject's content row while another subject may be registering the same content
 * (every run registers the same contract schemas under its own prefix), and that other
 * subject's id then answers 404 for good — every record written with it becomes undecodable.
 * Reproduced on the harness's registry: 8 ids lost in 60 rounds of "hard-delete A while
 * registering B with A's schema", none with soft deletes. A soft-deleted subject is no longer
 * listed or used; the registry's H2 file lives under `.services`, which a clean checkout starts
 * without.
 */
import type { Client } from '@confluentinc/schemaregistry';

/** Soft-deletes every subject of `subjects`; one already gone is not an error. */
export async function retireSubjects(client: Client, subjects: Iterable<string>): Promise<void> {
  for (const s of subjects) {
    await client.deleteSubject(s, false).catch((err: unknown) => {
      // 40401: never created or already gone; 40404: already soft-deleted.
      const code = (err as { errorCode?: number }).errorCode;
      if (code !== 40401 && code !== 40404) throw err;
    });
  }
}
