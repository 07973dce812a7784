/** The contract topics the gateway writes or reads (created when missing, as processors do). */
import type { TopicName } from '../schemas/index.ts';

export const GATEWAY_TOPICS: readonly TopicName[] = [
  'order-placed', 'order-command-topic', 'users-topic', 'stock-levels-topic', 'chat-topic', 'order-status-topic',
];
