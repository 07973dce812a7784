import { runProcessorMain } from '../common/index.ts';
import { stockSpec } from './index.ts';

await runProcessorMain(stockSpec);
