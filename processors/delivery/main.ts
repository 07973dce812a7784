import { runProcessorMain } from '../common/index.ts';
import { deliverySpec } from './index.ts';

await runProcessorMain(deliverySpec);
