import { runProcessorMain } from '../common/index.ts';
import { reportsSpec } from './index.ts';

await runProcessorMain(reportsSpec());
