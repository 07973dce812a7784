/** The order processor as its own process; configuration from the environment (processors/common/process.ts). */
import { runProcessorMain } from '../common/index.ts';
import { orderSpec } from './index.ts';

await runProcessorMain(orderSpec);
