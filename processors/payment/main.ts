/** The payment processor as its own process; configuration from the environment (processors/common/process.ts, sidecar.ts). */
import { runProcessorMain } from '../common/index.ts';
import { paymentSpec } from './index.ts';

await runProcessorMain(paymentSpec);
