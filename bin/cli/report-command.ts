/**
 * `ws-ceiling report <runId|latest>`: writes one stored run as a
 * self-contained HTML report (see functions/report/html-report.ts), with the
 * earlier runs of its target for the history trend, and prints the path it
 * wrote. A run is named as in `compare`: its id, a unique start of it,
 * `latest` or `previous` (of `--target-id` when given). An `--out` that
 * cannot be written is refused before the store is read. With `--region`
 * the run is read from that region's deployed runs table
 * (bin/cli/deployed-report.ts).
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import type { RunResult } from '../../functions/engine/types.js';
import { attemptWrite, checkOutputPath } from '../../functions/report/ci-outputs.js';
import { renderHtmlReport } from '../../functions/report/html-report.js';
import type { CliContext } from './cli-context.js';
import { deploymentOption } from './deployed-common.js';
import { deployedReportCommand } from './deployed-report.js';
import { openLocalStore } from './local-store.js';
import { findRun, storedRuns } from './run-lookup.js';
import { regionOption, storeOption, targetIdOption } from './shared-options.js';

/** Flags of `ws-ceiling report`. */
export interface ReportFlags {
  targetId?: string;
  /** File to write (default `ws-ceiling-report-<runId>.html` in the current directory). */
  out?: string;
  store: string;
}

/** Where the command prints: the path written goes to `stdout`. */
export interface ReportIo {
  stdout: { write(text: string): unknown };
}

/** Most runs of the target shown in the report's history trend, this one included. */
const REPORT_HISTORY_RUNS = 20;

/** Declares `ws-ceiling report` on `program`. */
export function registerReport(program: Command, { io, setExitCode }: CliContext): void {
  program
    .command('report')
    .description(
      'Write a stored run as one self-contained HTML page (cause, timeline chart, latency, failures, evidence, ' +
        'history, settings) and print its path.',
    )
    .argument('<run>', 'run id (or its first 4+ characters), latest or previous')
    .addOption(targetIdOption("only this target's runs (latest = the newest run of this target)"))
    .option('--out <file>', 'file to write (default: ws-ceiling-report-<runId>.html in the current directory)')
    .addOption(storeOption())
    .addOption(regionOption("read the run from this AWS region's deployed runs table instead of the local store"))
    .addOption(deploymentOption())
    .action(async (run: string, flags: ReportFlags & { region?: string; deployment?: string }) => {
      const { region } = flags;
      setExitCode(
        region === undefined
          ? await reportCommand(run, flags, io)
          : await deployedReportCommand(run, { ...flags, region }, io),
      );
    });
}

/** Writes the report of run `name` and returns the exit code; bad input throws InvalidInputError. */
export async function reportCommand(name: string, flags: ReportFlags, io: ReportIo): Promise<number> {
  if (flags.out !== undefined) await checkOutputPath('--out', flags.out);
  const { run, history } = await readRun(name, flags);
  const file = path.resolve(flags.out ?? defaultReportFile(run.runId));
  const report = renderHtmlReport(run, { generatedAt: new Date().toISOString(), history });
  await attemptWrite('--out', flags.out ?? file, () => writeFile(file, report));
  io.stdout.write(`${file}\n`);
  return 0;
}

/** The default report file name of a run: `ws-ceiling-report-<runId>.html`. */
export function defaultReportFile(runId: string): string {
  return `ws-ceiling-report-${runId}.html`;
}

/** The named run and the stored runs of its target up to it, newest first. */
async function readRun(name: string, flags: ReportFlags): Promise<{ run: RunResult; history: RunResult[] }> {
  const local = await openLocalStore(flags.store, { existing: true });
  try {
    const runs = await storedRuns(local.store, flags.targetId);
    const run = findRun(runs, name, '<run>', flags);
    const history = runs
      .filter((candidate) => candidate.targetId === run.targetId && candidate.startedAt <= run.startedAt)
      .slice(0, REPORT_HISTORY_RUNS);
    return { run, history };
  } finally {
    await local.close();
  }
}
