/** The read-model projector on real RabbitMQ (streams), the real registry and FerretDB (scenario.ts). */
import test from 'ava';
import { rabbitTarget } from '../saga/brokers.ts';
import { runOnBroker } from './broker.ts';

test.serial('rabbit: the projector builds the views from out-of-order, repeated and poison records', (t) => runOnBroker(t, rabbitTarget()));
