/**
 * The persistence layer: the interface (`types.ts`), its errors, the two implementations, and
 * the choice between them from the environment.
 */
export * from './types.ts';
export * from './errors.ts';
export { embeddedPersistence, type EmbeddedOptions, type EmbeddedPersistence } from './embedded.ts';
export { mongoPersistence, type MongoOptions } from './mongo.ts';
export { persistenceConfigFromEnv, persistenceFromEnv, type PersistenceConfig } from './env.ts';
