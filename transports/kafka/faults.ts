/**
 * Which KafkaJS failures a broker outage causes. KafkaJS wraps the error it gave up on
 * (KafkaJSNonRetriableError, KafkaJSNumberOfRetriesExceeded) and copies only its message, so the
 * cause chain is walked: a transaction aborted because the connection was refused is a broker
 * that went away, and the same call may succeed once it is back.
 */

/** Errors of the connection itself: the broker is down, restarting or unreachable. */
const CONNECTION_NAMES = new Set([
  'KafkaJSConnectionError', 'KafkaJSConnectionClosedError', 'KafkaJSRequestTimeoutError', 'KafkaJSBrokerNotFound',
  'KafkaJSNoBrokerAvailableError', 'KafkaJSMetadataNotLoaded',
]);
const CONNECTION_MESSAGE = /ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|EHOSTUNREACH|socket hang up|Connection error|Connection timeout|Closed connection|connection.*closed|Request .* timed out/i;

/**
 * Broker answers that mean "not now": coordinator or leader moving or loading after a restart,
 * a transaction marker still being written. Retrying the call (for a transaction: all of it,
 * after an abort) is how Kafka's own clients handle them.
 */
const RETRIABLE_TYPES = new Set([
  'NOT_COORDINATOR', 'NOT_COORDINATOR_FOR_GROUP', 'COORDINATOR_NOT_AVAILABLE', 'GROUP_COORDINATOR_NOT_AVAILABLE',
  'COORDINATOR_LOAD_IN_PROGRESS', 'GROUP_LOAD_IN_PROGRESS', 'NOT_LEADER_FOR_PARTITION', 'NOT_LEADER_OR_FOLLOWER', 'LEADER_NOT_AVAILABLE',
  'REQUEST_TIMED_OUT', 'NETWORK_EXCEPTION', 'CONCURRENT_TRANSACTIONS', 'NOT_ENOUGH_REPLICAS', 'NOT_ENOUGH_REPLICAS_AFTER_APPEND',
  'KAFKA_STORAGE_ERROR', 'FETCH_SESSION_ID_NOT_FOUND', 'UNKNOWN_LEADER_EPOCH', 'FENCED_LEADER_EPOCH', 'REBALANCE_IN_PROGRESS',
]);

/**
 * KafkaJS's own errors for the same "not now", raised as non-retriable once its retries are spent:
 * a group coordinator it could not find while the broker was restarting (the consumer crashed
 * with it and the process exited; the saga's broker-restart fault test, test/faults/).
 */
const RETRIABLE_NAMES = new Set(['KafkaJSGroupCoordinatorNotFound']);

/**
 * Answers that end this producer's identity: another instance with the same transactional id
 * took over (a zombie must stop, not retry), or the broker forgot the producer id.
 */
const FENCED_TYPES = new Set(['INVALID_PRODUCER_EPOCH', 'PRODUCER_FENCED', 'TRANSACTIONAL_ID_AUTHORIZATION_FAILED']);

export type KafkaFault = 'connection' | 'retriable' | 'fenced' | 'other';

interface Chained { name?: unknown; type?: unknown; message?: unknown; cause?: unknown; originalError?: unknown; retriable?: unknown }

/** The errors of the chain, outermost first (bounded: a cause cycle cannot loop). */
export function causeChain(e: unknown): Chained[] {
  const out: Chained[] = [];
  for (let c: unknown = e; c !== null && typeof c === 'object' && out.length < 10; ) {
    const x = c as Chained;
    out.push(x);
    c = x.cause ?? x.originalError;
  }
  return out;
}

export function classifyKafkaError(e: unknown): KafkaFault {
  const chain = causeChain(e);
  if (chain.some((c) => typeof c.type === 'string' && FENCED_TYPES.has(c.type))) return 'fenced';
  if (chain.some((c) => (typeof c.name === 'string' && CONNECTION_NAMES.has(c.name))
    || (typeof c.message === 'string' && CONNECTION_MESSAGE.test(c.message)))) return 'connection';
  if (chain.some((c) => (typeof c.type === 'string' && RETRIABLE_TYPES.has(c.type)) || (typeof c.name === 'string' && RETRIABLE_NAMES.has(c.name)))) return 'retriable';
  // KafkaJS's own verdict on the innermost broker error, when it gave one.
  const inner = chain.at(-1);
  if (inner && inner.retriable === true && chain.every((c) => c.name !== 'KafkaJSNonRetriableError' || c !== inner)) return 'retriable';
  return 'other';
}
