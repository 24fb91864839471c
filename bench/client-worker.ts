/**
 * Child-process entry that measures one client in a process of its own, so
 * RSS and CPU are that client's alone: `client-worker.js <probe|plain>
 * <workload JSON>`. Prints its ClientMeasurement as one JSON line on stdout;
 * exits at once when its parent goes away (stdin closes).
 */
import { measureClient, type Workload } from './measure.js';
import { createPlainClient } from './plain-client.js';
import { createProbeClient } from './probe-client.js';

process.stdin.once('end', () => process.exit(1));
process.stdin.resume();

const [kind, workloadJson = '{}'] = process.argv.slice(2);
if (kind !== 'probe' && kind !== 'plain')
  throw new Error(`client-worker: the client must be "probe" or "plain", got "${kind}"`);
const workload = JSON.parse(workloadJson) as Workload;
const client = kind === 'probe' ? createProbeClient(workload) : createPlainClient(workload);
const measurement = await measureClient(client, workload);
process.stdout.write(`${JSON.stringify(measurement)}\n`, () => process.exit(0));
