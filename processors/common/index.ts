/** What every team processor shares: contract wiring, derived ids, topic creation, the process runner. */
export { plainContracts, registryContracts, valueSerdeOf, type Contracts } from './contracts.ts';
export { derivedId, chance } from './ids.ts';
export { ensureContractTopics, type ContractTopicOptions } from './topics.ts';
export {
  startProcessor, runProcessorMain, guaranteeFromEnv, wiringFromEnv,
  type ProcessorSpec, type ProcessorOptions, type RunningProcessor, type Sidecar, type SidecarContext,
} from './process.ts';
export { numberFromEnv, type Env } from './env.ts';
export { exitOnSignalOrFailure } from './lifecycle.ts';
