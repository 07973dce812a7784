/** The read-model projector on real Kafka, the real registry and FerretDB (scenario.ts). */
import test from 'ava';
import { kafkaTarget } from '../saga/brokers.ts';
import { runOnBroker } from './broker.ts';

test.serial('kafka: the projector builds the views from out-of-order, repeated and poison records', (t) => runOnBroker(t, kafkaTarget()));
