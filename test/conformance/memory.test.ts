import { MemoryBroker, MemoryTransport } from '../../transports/index.ts';
import { crashableInProcess } from './crashable.ts';
import { conformance } from './suite.ts';

// One broker for the whole file, as one embedded process would have.
const broker = new MemoryBroker();

conformance({
  name: 'memory',
  make: () => new MemoryTransport({ broker }),
  makeUnreachable: () => {
    const gone = new MemoryBroker();
    gone.shutdown();
    return new MemoryTransport({ broker: gone });
  },
  crashable: (spec) => crashableInProcess(new MemoryTransport({ broker }), spec),
});
