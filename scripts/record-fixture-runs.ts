/**
 * Records the fixture runs the tests read: probes the bundled simulator once
 * per scenario of test/fixtures/simulator-runs.ts (one per limiting factor),
 * checks each run found what its scenario expects, and writes it as
 * test/fixtures/runs/<scenario>.json. Run it again after a change to the
 * RunResult shape, from the repository root, with
 * `npm run record-fixtures [-- scenario…]` (the package script bundles this
 * file with esbuild first: Node 20 cannot run TypeScript itself). The
 * probe-limited scenario runs its probe in a child process under
 * `ulimit -n`, started from this same file with `--probe <scenario> <url>`.
 */
import { spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { RunResult } from '../functions/engine/types.js';
import { parseSimulatorSpec } from '../functions/simulator/simulator-spec.js';
import { startTargetSimulator } from '../functions/simulator/target-simulator.js';
import {
  FIXTURE_SECRETS,
  probeInProcess,
  scenarioFlags,
  scenarioNamed,
  SCENARIOS,
  type Scenario,
  type ScenarioName,
} from '../test/fixtures/simulator-runs.js';
import { closedPort } from '../test/support/ports.js';

/** Where the runs are written, relative to the repository root the script runs from. */
const OUTPUT_DIRECTORY = path.resolve('test/fixtures/runs');

async function main(argv: readonly string[]): Promise<void> {
  if (argv[0] === '--probe') {
    const [, name, url] = argv;
    const run = await probeInProcess(url as string, scenarioFlags(scenarioNamed(name as ScenarioName)));
    process.stdout.write(JSON.stringify(run));
    return;
  }
  const chosen = argv.length ? argv.map((name) => scenarioNamed(name as ScenarioName)) : SCENARIOS;
  await mkdir(OUTPUT_DIRECTORY, { recursive: true });
  for (const scenario of chosen) {
    const run = await recordScenario(scenario);
    checkRun(scenario, run);
    const file = path.join(OUTPUT_DIRECTORY, `${scenario.name}.json`);
    await writeFile(file, `${JSON.stringify(run, null, 2)}\n`);
    process.stdout.write(
      `${scenario.name}: ${run.verdict}, ceiling ${run.ceiling.value ?? '–'}, ` +
        `${run.limitingFactor?.kind ?? 'no limit'} → ${file}\n`,
    );
  }
}

/** Starts the scenario's simulator (or finds a closed port), probes it and stops it. */
async function recordScenario(scenario: Scenario): Promise<RunResult> {
  if (scenario.simulator === 'closed-port') return probe(scenario, `ws://127.0.0.1:${await closedPort()}`);
  const simulator = await startTargetSimulator(parseSimulatorSpec(scenario.simulator, 'simulator'));
  try {
    return await probe(scenario, simulator.url);
  } finally {
    await simulator.stop();
  }
}

function probe(scenario: Scenario, base: string): Promise<RunResult> {
  const url = scenario.url ? scenario.url(base) : base;
  if (scenario.descriptorLimit === undefined) return probeInProcess(url, scenarioFlags(scenario));
  return probeInChild(scenario.name, url, scenario.descriptorLimit);
}

/** Runs this file with `--probe` under `ulimit -n limit` and parses the run it prints. */
function probeInChild(name: ScenarioName, url: string, limit: number): Promise<RunResult> {
  const script = process.argv[1] as string;
  const child = spawn(
    'bash',
    ['-c', `ulimit -n ${limit} && exec "$0" "$@"`, process.execPath, script, '--probe', name, url],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return new Promise((resolve, reject) => {
    child.on('close', (code) => {
      if (code === 0) resolve(JSON.parse(output) as RunResult);
      else reject(new Error(`the ${name} probe exited with ${code}`));
    });
  });
}

/** Refuses to write a run that did not find what its scenario is about, or that holds a secret. */
function checkRun(scenario: Scenario, run: RunResult): void {
  const found = run.limitingFactor?.kind ?? null;
  if (found !== scenario.expectedFactor || run.verdict !== scenario.expectedVerdict) {
    throw new Error(
      `${scenario.name}: expected ${scenario.expectedFactor} (${scenario.expectedVerdict}), ` +
        `got ${found} (${run.verdict}): ${run.verdictReason}`,
    );
  }
  const text = JSON.stringify(run);
  const leaked = FIXTURE_SECRETS.find((secret) => text.includes(secret));
  if (leaked) throw new Error(`${scenario.name}: the run holds the secret ${leaked}`);
}

await main(process.argv.slice(2));
