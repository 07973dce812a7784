/** The order saga on Kafka under a fault: see saga-faults.ts. */
import test from 'ava';
import { brokerRestart } from './saga-faults.ts';

test.serial('kafka: the saga survives its broker stopped ~10 s and started again mid-load', brokerRestart('kafka'));
