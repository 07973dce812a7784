/**
 * Where the real services live. Defaults are the services harness's loopback ports
 * (`scripts/services env` prints the same); each can be overridden from the environment.
 */
export interface Endpoints {
  /** Comma-separated host:port list. */
  readonly kafkaBrokers: string[];
  readonly rabbitUrl: string;
  readonly rabbitManagementUrl: string;
  /** Base URL of a Confluent-compatible schema registry API. */
  readonly schemaRegistryUrl: string;
  readonly mongoUrl: string;
}

export function endpoints(env: NodeJS.ProcessEnv = process.env): Endpoints {
  return {
    kafkaBrokers: (env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',').map((s) => s.trim()).filter(Boolean),
    rabbitUrl: env.RABBIT_URL ?? 'amqp://guest:guest@127.0.0.1:5672',
    rabbitManagementUrl: env.RABBIT_MANAGEMENT_URL ?? 'http://guest:guest@127.0.0.1:15672',
    schemaRegistryUrl: env.SCHEMA_REGISTRY_URL ?? 'http://127.0.0.1:8081/apis/ccompat/v7',
    mongoUrl: env.MONGO_URL ?? 'mongodb://127.0.0.1:27017',
  };
}
