/**
 * How one commit writes outputs, changelog entries and positions, one protocol per guarantee:
 * - transactional (exactly_once where the transport has transactions): everything, the tasks'
 *   checkpoints included, in one transaction with the group's offsets;
 * - effectively-once (exactly_once without transactions): outputs and unit-tagged changelog
 *   entries, then the checkpoints that make the unit count, then the group's offsets;
 * - at-least-once: outputs and changelog entries, then the group's offsets.
 * Chosen from the transport's declared capabilities, never its name.
 */
import type { Capabilities, Consumer, Producer, ProducerRecord, TopicPartitionOffset } from '../../../transports/index.ts';
import { tpKey } from '../../../transports/util.ts';
import type { ProcessingGuarantee } from './config.ts';
import { UNIT_HEADER } from './effectively-once.ts';

/** What one commit makes durable. */
export interface CommitUnit {
  readonly outputs: readonly ProducerRecord[];
  readonly changelog: readonly ProducerRecord[];
  /** Next offset to read per input partition of every running task. */
  readonly positions: readonly TopicPartitionOffset[];
  /** The running tasks' checkpoint records, naming the commit unit they close. */
  readonly checkpoints: (unit: string) => ProducerRecord[];
}

export interface CommitProtocol {
  readonly kind: 'transactional' | 'effectively-once' | 'at-least-once';
  commit(unit: CommitUnit): Promise<void>;
}

export interface CommitClients {
  readonly groupId: string;
  /** The producer and consumer of the moment: a re-initialisation replaces both. */
  readonly producer: () => Producer;
  readonly consumer: () => Consumer;
  /** Unique to this process's run: names its effectively-once commit units. */
  readonly incarnation: string;
}

export function commitProtocol(guarantee: ProcessingGuarantee, capabilities: Capabilities, clients: CommitClients): CommitProtocol {
  if (guarantee === 'at_least_once') return new AtLeastOnceCommit(clients);
  return capabilities.transactions ? new TransactionalCommit(clients) : new EffectivelyOnceCommit(clients);
}

class TransactionalCommit implements CommitProtocol {
  readonly kind = 'transactional';
  constructor(private readonly clients: CommitClients) {}

  async commit({ outputs, changelog, positions, checkpoints }: CommitUnit): Promise<void> {
    // The checkpoints ride along so that a new owner reads its start stably (see StoreChangelogReader).
    await this.clients.producer().sendTransaction([...outputs, ...changelog, ...checkpoints('')], { groupId: this.clients.groupId, offsets: positions });
  }
}

class EffectivelyOnceCommit implements CommitProtocol {
  readonly kind = 'effectively-once';
  // A failed commit ends its epoch: a checkpoint's "highest seq per epoch" must never cover it.
  #epoch = 0;
  #seq = 0;
  constructor(private readonly clients: CommitClients) {}

  async commit({ outputs, changelog, positions, checkpoints }: CommitUnit): Promise<void> {
    const unit = `${this.clients.incarnation}.${this.#epoch}:${this.#seq++}`;
    const tagged = changelog.map((r) => ({ ...r, headers: { ...r.headers, [UNIT_HEADER]: unit } }));
    const producer = this.clients.producer();
    try {
      await producer.send([...outputs, ...tagged]);
      await producer.send(checkpoints(unit));
      await commitOwned(this.clients.consumer(), positions);
    } catch (e) {
      this.#epoch++;
      this.#seq = 0;
      throw e;
    }
  }
}

class AtLeastOnceCommit implements CommitProtocol {
  readonly kind = 'at-least-once';
  constructor(private readonly clients: CommitClients) {}

  async commit({ outputs, changelog, positions }: CommitUnit): Promise<void> {
    if (outputs.length + changelog.length > 0) await this.clients.producer().send([...outputs, ...changelog]);
    await commitOwned(this.clients.consumer(), positions);
  }
}

/** Commits the positions of partitions the consumer still owns (a revoked one is the new owner's). */
async function commitOwned(consumer: Consumer, positions: readonly TopicPartitionOffset[]): Promise<void> {
  const owned = new Set(consumer.assignment().map(tpKey));
  const mine = positions.filter((p) => owned.has(tpKey(p)));
  if (mine.length > 0) await consumer.commit(mine);
}
