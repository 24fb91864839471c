/**
 * `ws-ceiling rehearse`: runs the state machine a deployed target would run,
 * from the synthesized template, on this machine against the target or a
 * staging URL, and shows what the deployed probe would store, publish and
 * alarm on (bin/cli/rehearsal.ts). Flags are checked first (exit 2), then
 * the self-check across processes (exit 3 when the plan does not fit this
 * machine); the exit code then follows the run's verdict, as for `run`, and
 * is 3 when the execution recorded no run.
 */
import { Option, type Command } from 'commander';
import { readHostBudget } from '../../functions/probe-host/host-budget.js';
import type { CliContext, CommandIo } from './cli-context.js';
import { EXIT_CODES, exitCodeForVerdict } from './exit-codes.js';
import { rehearseOptions, SECRETS_VARIABLE, type RehearseFlags } from './rehearse-options.js';
import { describeRefusal, describeRehearsal, rehearsalJson } from './rehearse-report.js';
import { checkRehearsal, readMachineBudget, rehearsalDemand } from './rehearsal-preflight.js';
import { rehearse, type RegionSynthesizer, type RehearsalControl } from './rehearsal.js';
import { jsonOption, regionOption, storeOption, targetIdOption } from './shared-options.js';

/** Loads the synthesizer only when a rehearsal runs (it brings aws-cdk-lib). */
export type SynthesizerLoader = () => Promise<{ synthesizeRegion: RegionSynthesizer }>;

/** Declares `ws-ceiling rehearse` on `program`. */
export function registerRehearse(program: Command, { io, setExitCode }: CliContext, load: SynthesizerLoader): void {
  program
    .command('rehearse')
    .description(
      'Run the state machine a deployed target would run, from the synthesized template, on this machine: one ' +
        'process per Lambda call, local stand-ins for AWS, and the alarms evaluated on what it published.',
    )
    .requiredOption('--config <file>', 'config file of the deployed probe')
    .addOption(targetIdOption('target id from the config').makeOptionMandatory())
    .addOption(regionOption('AWS region to rehearse (default: the first the target is probed from)'))
    .option('--url <url>', "probe this ws:// or wss:// URL (staging) instead of the target's; its host must be allowed")
    .option('--secrets <file>', `JSON object of secret name to value for the target's headers (or ${SECRETS_VARIABLE})`)
    .option('--start-delay <seconds>', 'seconds from planning to the first stage (default: the deployed 20)')
    .addOption(
      new Option('--fault <spec>', 'play a failure on a worker: crash:N[@S], oom:N or late:N@S (repeatable)').argParser(
        (value: string, previous: string[] | undefined) => [...(previous ?? []), value],
      ),
    )
    .addOption(storeOption())
    .addOption(jsonOption('print the rehearsal as one JSON object'))
    .action(async (flags: RehearseFlags) => setExitCode(await rehearseCommand(flags, io, load)));
}

async function rehearseCommand(flags: RehearseFlags, io: CommandIo, load: SynthesizerLoader): Promise<number> {
  const options = rehearseOptions(flags, process.env);
  const problems = checkRehearsal(rehearsalDemand(options.target), await readMachineBudget(await readHostBudget()));
  if (problems.length > 0) {
    io.stdout.write(
      options.json
        ? `${JSON.stringify({ verdict: 'inconclusive', refused: true, problems }, null, 2)}\n`
        : `${describeRefusal(options, problems)}\n`,
    );
    return EXIT_CODES.probeFailed;
  }
  const { synthesizeRegion } = await load();
  const interrupts = interruptsOf(io);
  let outcome;
  try {
    outcome = await rehearse(options, synthesizeRegion, (line) => io.stderr.write(`${line}\n`), interrupts);
  } finally {
    interrupts.dispose();
  }
  if (options.json) {
    io.stdout.write(`${JSON.stringify(rehearsalJson(outcome), null, 2)}\n`);
    for (const note of outcome.notes) io.stderr.write(`Note: ${note}\n`);
  } else io.stdout.write(`${describeRehearsal(outcome, options)}\n`);
  return outcome.run ? exitCodeForVerdict(outcome.run.verdict) : EXIT_CODES.probeFailed;
}

/**
 * Ctrl-C while the rehearsal runs: the first is the kill switch (a stop
 * request, so the run is recorded as inconclusive), a second one, SIGTERM or
 * SIGHUP stops every process at once (the rehearsal still releases its run
 * lock as it exits).
 */
function interruptsOf(io: CommandIo): RehearsalControl & { dispose(): void } {
  const stop = new AbortController();
  const kill = new AbortController();
  const onInterrupt = (): void => {
    if (stop.signal.aborted) kill.abort();
    else io.stderr.write('Ctrl-C again stops every process at once, and no run is recorded.\n');
    stop.abort();
  };
  const onTerminate = (): void => kill.abort();
  process.on('SIGINT', onInterrupt);
  process.on('SIGTERM', onTerminate);
  process.on('SIGHUP', onTerminate);
  return {
    stop: stop.signal,
    kill: kill.signal,
    dispose: () => {
      process.removeListener('SIGINT', onInterrupt);
      process.removeListener('SIGTERM', onTerminate);
      process.removeListener('SIGHUP', onTerminate);
    },
  };
}
