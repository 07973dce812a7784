/** The order saga on RabbitMQ under a fault: see saga-faults.ts. */
import test from 'ava';
import { poison } from './saga-faults.ts';

test.serial('rabbit: poison on every contract topic is dead-lettered with its reason and the saga goes on', poison('rabbit'));
