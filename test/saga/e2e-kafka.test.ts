/**
 * The order saga end to end on real Kafka: four processors and the payment gateway simulator as
 * processes, 1,000 orders (SAGA_ORDERS to change), every order's outcome, stock level, charge and
 * event checked against the scenario's prediction. See saga.ts.
 */
import test from 'ava';
import { kafkaTarget } from './brokers.ts';
import { runSaga } from './saga.ts';

test.serial('kafka: the order saga reaches the predicted state (exactly_once)', (t) => runSaga(t, kafkaTarget()));
