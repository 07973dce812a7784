/**
 * A private broker for the fault tests: its own harness instance (run directory, ports,
 * RabbitMQ node name), stopped and started at will while the shared broker on the default ports
 * keeps serving every other suite. Data is kept across down/up; dispose() deletes it.
 */
import { privateInstance, type PrivateInstance } from '../services/private-instance.ts';

export type BrokerName = 'kafka' | 'rabbit';

/** Ports far from the shared instance's defaults (and from the registry restart test's). */
const PORTS: Record<BrokerName, Record<string, string>> = {
  kafka: { KAFKA_PORT: '19092', KAFKA_CONTROLLER_PORT: '19093' },
  rabbit: {
    RABBIT_PORT: '15673', RABBIT_STREAM_PORT: '15553', RABBIT_MGMT_PORT: '15674', RABBIT_DIST_PORT: '25673',
    RABBIT_NODENAME: 'faults@localhost',
  },
};

export interface PrivateBroker extends PrivateInstance {
  readonly name: BrokerName;
  /** Stops the broker, waits `outageMs`, starts it again (data kept); resolves once it is ready. */
  restart(outageMs: number): Promise<void>;
}

/**
 * `slot`: suites that may run at the same time (ava runs test files in parallel) each take their
 * own, which shifts every port by 10 × slot and names the RabbitMQ node apart. The transport
 * restart suite takes slot 0, the saga's broker-restart suite slot 1.
 */
export async function privateBroker(name: BrokerName, slot = 0): Promise<PrivateBroker> {
  const ports = Object.fromEntries(Object.entries(PORTS[name]).map(([k, v]) => [k, /^\d+$/.test(v) ? String(Number(v) + 10 * slot) : slot === 0 ? v : v.replace('@', `${slot}@`)]));
  const instance = await privateInstance(name, ports);
  return {
    ...instance,
    name,
    async restart(outageMs) {
      await instance.down();
      await new Promise((r) => setTimeout(r, outageMs));
      await instance.up();
    },
  };
}
