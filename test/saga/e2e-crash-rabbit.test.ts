/**
 * The order saga on real RabbitMQ (effectively-once) with crashes: the same plan and checks as on
 * Kafka; re-sent copies after a crash must be recognised by their origin. See saga.ts, crashes.ts.
 */
import test from 'ava';
import { rabbitTarget } from './brokers.ts';
import { CRASH_PLAN } from './crashes.ts';
import { runSaga } from './saga.ts';

test.serial('rabbit: a crash loses no accepted order and duplicates no effect (exactly_once)', (t) => runSaga(t, rabbitTarget(), { crashes: CRASH_PLAN }));
