/**
 * The order saga on real Kafka with crashes: while 400 orders (SAGA_CRASH_ORDERS) are placed,
 * every processor is SIGKILLed and restarted as the same instance (order and stock twice), and
 * the run must still reach the predicted state with no effect duplicated. See saga.ts, crashes.ts.
 */
import test from 'ava';
import { kafkaTarget } from './brokers.ts';
import { CRASH_PLAN } from './crashes.ts';
import { runSaga } from './saga.ts';

test.serial('kafka: a crash loses no accepted order and duplicates no effect (exactly_once)', (t) => runSaga(t, kafkaTarget(), { crashes: CRASH_PLAN }));
