/** The order saga on Kafka under a fault: see saga-faults.ts. */
import test from 'ava';
import { poison } from './saga-faults.ts';

test.serial('kafka: poison on every contract topic is dead-lettered with its reason and the saga goes on', poison('kafka'));
