/**
 * `ws-ceiling run`: the local probe. Composes the same three steps as the
 * deployed run: plan, every shard's runShard in this process, then record
 * into the embedded store. Prints the plan, live progress and the answer.
 */
import { randomUUID } from 'node:crypto';
import { runShard, type ShardEvent } from '../../functions/connection/shard-runner.js';
import { InvalidInputError } from '../../functions/engine/errors.js';
import { planRun } from '../../functions/engine/plan.js';
import { RampControl } from '../../functions/engine/ramp-control.js';
import { publicSettings, recordRun } from '../../functions/engine/record.js';
import { redactUrl } from '../../functions/engine/redact.js';
import type { ProbePlan, ProbeSettings, ShardResult } from '../../functions/engine/types.js';
import { describeSimulator, parseSimulatorSpec } from '../../functions/simulator/simulator-spec.js';
import { startTargetSimulator } from '../../functions/simulator/target-simulator.js';
import { exitCodeForVerdict } from './exit-codes.js';
import { openLocalStore } from './local-store.js';
import { startProgressDisplay } from './progress.js';
import { parseRunFlags, RUN_DEFAULTS, type RawRunFlags } from './run-options.js';
import { describePlan, describeResult } from './summary.js';

/** Delay before the first stage so every shard is ready. */
const LOCAL_START_DELAY_MS = 250;

/** Flags of `ws-ceiling run`. */
export interface RunCommandFlags extends RawRunFlags {
  simulate?: string;
  json?: boolean;
  store: string;
}

/** Where the command writes: results to `stdout`, plan and progress to `stderr`. */
export interface CommandIo {
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
}

/** Runs a probe and returns the process exit code. */
export async function runCommand(urlArgument: string | undefined, flags: RunCommandFlags, io: CommandIo): Promise<number> {
  if (urlArgument !== undefined && flags.simulate !== undefined) {
    throw new InvalidInputError('--simulate', 'probes the bundled simulator, so give either a URL or --simulate, not both');
  }
  if (urlArgument === undefined && flags.simulate === undefined) {
    throw new InvalidInputError('url', 'give a ws:// or wss:// URL, or --simulate <spec> to probe the bundled simulator (e.g. --simulate cap=150)');
  }
  const simulatorOptions = flags.simulate !== undefined ? parseSimulatorSpec(flags.simulate) : undefined;
  const simulator = simulatorOptions ? await startTargetSimulator(simulatorOptions) : undefined;
  try {
    const url = simulator ? simulator.url : (urlArgument as string);
    const settings = parseRunFlags(url, flags, simulator ? 'simulator' : undefined);
    if (simulator && simulatorOptions) io.stderr.write(`Started the target simulator at ${simulator.url}: ${describeSimulator(simulatorOptions)}\n`);
    return await probeAndRecord(settings, flags, io);
  } finally {
    await simulator?.stop();
  }
}

async function probeAndRecord(settings: ProbeSettings, flags: RunCommandFlags, io: CommandIo): Promise<number> {
  const local = await openLocalStore(flags.store);
  try {
    const plan = planRun(settings, { now: Date.now, newRunId: randomUUID, startDelayMs: LOCAL_START_DELAY_MS });
    const planText = describePlan(plan, publicSettings(settings, plan), redactUrl(settings.url), settings.stopAtFirstFailingStage);
    (flags.json ? io.stderr : io.stdout).write(`${planText}\n\n`);
    const shards = await runAllShards(settings, plan, io);
    const { run, stored } = await recordRun({ settings, plan, shards, region: 'local', finishedAt: Date.now() }, { store: local.store });
    if (flags.json) io.stdout.write(`${JSON.stringify(run, null, 2)}\n`);
    else {
      io.stdout.write(`\n${describeResult(run)}\n\n`);
      const storeFlag = flags.store === RUN_DEFAULTS.store ? '' : ` --store ${flags.store}`;
      io.stdout.write(`${stored === 'written' ? 'Stored' : 'Already stored'} in ${flags.store} (see: ws-ceiling history --target-id ${run.targetId}${storeFlag})\n`);
    }
    return exitCodeForVerdict(run.verdict);
  } finally {
    await local.close();
  }
}

/** Runs every shard in this process with live progress; Ctrl-C stops the run and still records it. */
async function runAllShards(settings: ProbeSettings, plan: ProbePlan, io: CommandIo): Promise<ShardResult[]> {
  const control = new RampControl(settings.tolerance, settings.stages, settings.stopAtFirstFailingStage);
  const display = startProgressDisplay(plan, io.stderr);
  const onEvent = (event: ShardEvent) => display.onEvent(event);
  const interrupt = () => control.abort({ failureClass: 'interrupted', message: 'stopped by SIGINT' });
  process.once('SIGINT', interrupt);
  try {
    return await Promise.all(
      plan.shards.map((shard) =>
        runShard(
          {
            url: settings.url,
            headers: settings.headers,
            subprotocols: settings.subprotocols,
            handshakeTimeoutSeconds: settings.handshakeTimeoutSeconds,
            heartbeat: settings.heartbeat,
            stages: plan.stages,
            shard,
          },
          { control, onEvent },
        ),
      ),
    );
  } finally {
    process.removeListener('SIGINT', interrupt);
    display.stop();
  }
}
