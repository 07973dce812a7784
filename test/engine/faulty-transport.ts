/**
 * Failure injection for any Transport: the next N calls of chosen operations — or every call
 * while an outage lasts — throw before reaching the inner transport, so nothing of a failed call
 * is written. The default error is retriable, as a broker that is away gives; pass another to
 * test what must stay fatal. Wraps the memory transport (or `rabbitLike`) in engine tests.
 */
import { TransportError, type Consumer, type Producer, type Transport } from '../../transports/index.ts';

export type FaultyOperation = 'connect' | 'send' | 'sendTransaction' | 'commit';

export class Faults {
  /** Calls made per operation (failed ones included). */
  readonly calls = new Map<FaultyOperation, number>();
  /** Calls that were made to fail. */
  injected = 0;
  private readonly next = new Map<FaultyOperation, { skip: number; left: number; error: () => Error }>();
  private outageOf: ReadonlySet<FaultyOperation> | undefined;

  /**
   * After `skip` more calls of `op` pass, the next `n` throw `error()` (default: a retriable
   * transport error). `skip` reaches a later step of a commit, e.g. the checkpoint after the outputs.
   */
  failNext(op: FaultyOperation, n = 1, options: { skip?: number; error?: () => Error } = {}): void {
    this.next.set(op, { skip: options.skip ?? 0, left: n, error: options.error ?? (() => retriableFault(op)) });
  }

  /** Every call of these operations fails (retriable) until `heal()`: the broker is away. */
  outage(ops: readonly FaultyOperation[] = ['connect', 'send', 'sendTransaction', 'commit']): void {
    this.outageOf = new Set(ops);
  }

  heal(): void {
    this.outageOf = undefined;
    this.next.clear();
  }

  /** Throws when this call is to fail; called by the wrappers before the inner call. */
  check(op: FaultyOperation): void {
    this.calls.set(op, (this.calls.get(op) ?? 0) + 1);
    if (this.outageOf?.has(op)) { this.injected++; throw retriableFault(op); }
    const armed = this.next.get(op);
    if (!armed || armed.left <= 0) return;
    if (armed.skip > 0) { armed.skip--; return; }
    armed.left--;
    this.injected++;
    throw armed.error();
  }
}

export function retriableFault(op: string): TransportError {
  return new TransportError(`injected fault in ${op}: connect ECONNREFUSED`, {}, true);
}

export function faultyTransport(inner: Transport, faults: Faults): Transport {
  return Object.assign(Object.create(inner) as Transport, {
    producer: (...args: Parameters<Transport['producer']>): Producer => faultyProducer(inner.producer(...args), faults),
    consumer: (...args: Parameters<Transport['consumer']>): Consumer => faultyConsumer(inner.consumer(...args), faults),
  });
}

function faultyProducer(p: Producer, faults: Faults): Producer {
  return {
    connect: async () => { faults.check('connect'); return p.connect(); },
    send: async (records) => { faults.check('send'); return p.send(records); },
    sendTransaction: async (records, positions) => { faults.check('sendTransaction'); return p.sendTransaction(records, positions); },
    maxRecordBytes: (topic) => p.maxRecordBytes(topic),
    recordSize: (record) => p.recordSize(record),
    disconnect: () => p.disconnect(),
  };
}

function faultyConsumer(c: Consumer, faults: Faults): Consumer {
  return {
    connect: async () => { faults.check('connect'); return c.connect(); },
    commit: async (offsets) => { faults.check('commit'); return c.commit(offsets); },
    run: (handler) => c.run(handler),
    committed: (partitions) => c.committed(partitions),
    pause: (partitions) => c.pause(partitions),
    resume: (partitions) => c.resume(partitions),
    seek: (target) => c.seek(target),
    assignment: () => c.assignment(),
    stopped: () => c.stopped(),
    disconnect: () => c.disconnect(),
  };
}
