/**
 * The order saga end to end on real RabbitMQ (streams, effectively-once): the same scenario and
 * checks as on Kafka, and the same final state. See saga.ts.
 */
import test from 'ava';
import { rabbitTarget } from './brokers.ts';
import { runSaga } from './saga.ts';

test.serial('rabbit: the order saga reaches the predicted state (exactly_once)', (t) => runSaga(t, rabbitTarget()));
