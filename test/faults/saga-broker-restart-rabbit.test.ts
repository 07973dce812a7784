/** The order saga on RabbitMQ under a fault: see saga-faults.ts. */
import test from 'ava';
import { brokerRestart } from './saga-faults.ts';

test.serial('rabbit: the saga survives its broker stopped ~10 s and started again mid-load', brokerRestart('rabbit'));
