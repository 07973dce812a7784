/** The order saga on Kafka under a fault: see saga-faults.ts. */
import test from 'ava';
import { zombie } from './saga-faults.ts';

test.serial('kafka: a processor frozen past its session and woken causes no duplicate effect', zombie('kafka'));
