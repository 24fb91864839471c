// `run --processes` through the real CLI against the simulator: two probe processes give one merged run with the
// ceiling, cause and stage rows of one process, stored once; SIGTERM to the CLI reaches both processes, which close
// every connection with 1000 and end, and the run is inconclusive; a process that crashes makes the run inconclusive
// with the process named; diagnose runs its ramp over the processes too; a bad --processes exits 2 before anything
// is sent. With --source-address every probe process leaves from every address, and the self-check counts ports per
// (source address, target) pair across the processes.
import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Diagnosis } from '../../functions/diagnose/findings.js';
import type { RunResult } from '../../functions/engine/types.js';
import { startTargetSimulator, type RunningSimulator } from '../../functions/simulator/target-simulator.js';
import { runCli, temporaryStore, type CliOptions } from '../support/cli.js';

let store: { directory: string; remove: () => Promise<void> };
let target: RunningSimulator;
beforeEach(async () => {
  store = await temporaryStore();
});
afterEach(async () => {
  await target.stop();
  await store.remove();
});

/** `run <target> --json` with `flags` into the test's store; the run printed, stderr and the exit code. */
async function run(
  flags: string[],
  options: CliOptions = {},
): Promise<{ run: RunResult; stderr: string; code: number | null }> {
  const result = await runCli(['run', target.url, '--json', '--store', store.directory, ...flags], options);
  expect(result.stdout, result.stderr).not.toBe('');
  return { run: JSON.parse(result.stdout) as RunResult, stderr: result.stderr, code: result.code };
}

/** The pids of the probe processes the CLI says it started, once it has said so. */
function probePids(onPids: (pids: number[]) => void): CliOptions['onStart'] {
  return (child) => {
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      const before = stderr;
      stderr += chunk.toString();
      const match = /Started 2 probe processes \(pids (\d+), (\d+)\)/.exec(stderr);
      if (match && !/Started 2 probe processes/.test(before)) onPids([Number(match[1]), Number(match[2])]);
    });
  };
}

/** True while process `pid` exists. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Resolves once the simulator has seen every connection end (at most 5 s), so its counts are final. */
async function allClosed(): Promise<void> {
  for (let waited = 0; target.stats().open > 0 && waited < 5000; waited += 20) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('run --processes 2', () => {
  it('gives one merged run, stored once, with the ceiling, cause and stages of one process', async () => {
    target = await startTargetSimulator({ cap: { limit: 150, response: { kind: 'status', status: 503 } } });
    const flags = ['--stages', '50,100,150,200', '--hold', '0.3', '--rate', '500', '--shard-size', '50'];
    const alone = await run(flags);
    const spread = await run([...flags, '--processes', '2']);
    expect(alone.stderr).not.toContain('probe processes');
    expect(spread.stderr).toMatch(/Started 2 probe processes \(pids \d+, \d+\), each with \d+ descriptors/);
    expect([alone.code, spread.code]).toEqual([0, 0]);
    expect(alone.run.ceiling).toEqual({ value: 150, reached: true });
    expect(spread.run.ceiling).toEqual(alone.run.ceiling);
    expect(spread.run.limitingFactor?.kind).toBe('concurrency-cap');
    expect(spread.run.dropOnset).toBe(alone.run.dropOnset);
    const rows = (result: RunResult) => result.stages.map((stage) => [stage.opened, stage.openAtEnd, stage.failed]);
    expect(rows(spread.run)).toEqual(rows(alone.run));
    const history = await runCli(['history', '--json', '--store', store.directory]);
    const stored = (JSON.parse(history.stdout) as RunResult[]).map((result) => result.runId);
    expect(stored.sort()).toEqual([alone.run.runId, spread.run.runId].sort());
    await allClosed();
    expect(target.stats().clientCloseCodes).toEqual({ '1000': 300 });
  });

  it('stops both processes on SIGTERM: every connection closed with 1000, the run inconclusive', async () => {
    target = await startTargetSimulator({});
    let pids: number[] = [];
    const result = await run(
      ['--stages', '20,40', '--hold', '10', '--rate', '200', '--shard-size', '10', '--processes', '2'],
      {
        onStart: (child) => {
          probePids((started) => {
            pids = started;
            // Once every connection of the first stage is open (0.1 s at 200/s, after the 0.5 s start delay).
            setTimeout(() => child.kill('SIGTERM'), 1500);
          })?.(child);
        },
      },
    );
    expect(result.code, result.stderr).toBe(3);
    expect(result.stderr).toContain('Stopping on SIGTERM: closing the 20 open connections with 1000');
    expect(result.run.verdict).toBe('inconclusive');
    expect(result.run.verdictReason).toBe('The run was stopped before it finished (stopped by SIGTERM).');
    expect(result.run.stages.map((stage) => [stage.opened, stage.openAtEnd])).toEqual([[20, 20]]);
    expect(pids).toHaveLength(2);
    expect(pids.filter(alive)).toEqual([]);
    await allClosed();
    expect(target.stats().clientCloseCodes).toEqual({ '1000': 20 });
    expect(target.stats().abnormalClientCloses).toBe(0);
  });

  it('makes the run inconclusive, naming the process, when one crashes', async () => {
    target = await startTargetSimulator({});
    let killed = 0;
    const result = await run(
      ['--stages', '20,40', '--hold', '10', '--rate', '200', '--shard-size', '10', '--processes', '2'],
      {
        onStart: probePids((pids) => {
          killed = pids[1] ?? 0;
          setTimeout(() => process.kill(killed, 'SIGKILL'), 1500);
        }),
      },
    );
    expect(result.code, result.stderr).toBe(3);
    expect(result.run.verdict).toBe('inconclusive');
    expect(result.run.ceiling.value).toBeNull();
    expect(result.run.verdictReason).toContain(`probe process 2 of 2 (pid ${killed}) failed: Runtime.ExitError`);
    expect(result.stderr).toContain(`Probe process 2 (pid ${killed}): Runtime.ExitError`);
  });
});

describe('a plan one process cannot hold', () => {
  it('is refused with the processes that would hold it, and held with --processes auto', async () => {
    target = await startTargetSimulator({});
    // 4 shards of 100 against 300 descriptors (soft and hard): one process leaves 235 for connections, two 228 each.
    const flags = ['--stages', '400', '--hold', '0.3', '--rate', '1000', '--shard-size', '100'];
    const refused = await run(flags, { descriptorLimit: 300 });
    expect(refused.code).toBe(3);
    expect(refused.run.verdictReason).toContain(
      'more shards (--shard-size) do not help here; or run the shards in 2 probe processes, each with descriptors ' +
        'of its own: --processes 2 (or auto).',
    );
    expect(target.stats().accepted).toBe(0);
    const spread = await run([...flags, '--processes', 'auto'], { descriptorLimit: 300 });
    expect(spread.stderr).toMatch(/Started 2 probe processes \(pids \d+, \d+\), each with 300 descriptors/);
    expect(spread.run.verdict).toBe('ok');
    expect(spread.run.stages.map((stage) => [stage.opened, stage.openAtEnd, stage.failed])).toEqual([[400, 400, 0]]);
  });
});

describe('run --processes 2 --source-address', () => {
  it('leaves from both addresses in both processes: a cap kept per address lets each its own share', async () => {
    target = await startTargetSimulator({
      cap: { limit: 60, response: { kind: 'status', status: 503 } },
      per: { kind: 'source-address' },
    });
    const flags = ['--stages', '40,80,120,160', '--hold', '0.3', '--rate', '500', '--shard-size', '20'];
    const spread = await run([...flags, '--processes', '2', '--source-address', '127.0.0.1,127.0.0.2']);
    expect(spread.code, spread.stderr).toBe(0);
    expect(spread.stderr).toMatch(/Started 2 probe processes/);
    expect(spread.run.settings.sourceAddresses).toEqual(['127.0.0.1', '127.0.0.2']);
    // 60 per address: 120 only when both processes' connections leave from both addresses, half each.
    expect(spread.run.ceiling).toEqual({ value: 120, reached: true });
    expect(spread.run.limitingFactor?.kind).toBe('concurrency-cap');
    expect(spread.run.stages.map((stage) => [stage.opened, stage.failed])).toEqual([
      [40, 0],
      [40, 0],
      [40, 0],
      [0, 40],
    ]);
  });
});

/** The ephemeral port range of this machine and the hard descriptor limit of this process, as the CLI reads them. */
function portsAndDescriptors(): { ports: number; hardLimit: number } {
  const [low = 0, high = 0] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/);
  const limits = /^Max open files\s+\d+\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
  return { ports: Number(high) - Number(low) + 1, hardLimit: Number(limits?.[1]) };
}

describe('a plan one source address cannot carry over probe processes', () => {
  it('is refused with the addresses that would carry it, and starts with a second address', async () => {
    target = await startTargetSimulator({});
    const { ports, hardLimit } = portsAndDescriptors();
    // A little more than the port range less its 5 % headroom leaves one address: two carry it, half each. The
    // processes are as many as leave each well within its descriptors, so ports are all that runs out.
    const peak = ports - Math.ceil(ports * 0.05) + 500;
    const processes = Math.max(2, Math.ceil(peak / (hardLimit * 0.85)));
    const flags = ['--stages', String(peak), '--max-connections', String(peak), '--hold', '1', '--rate', '20'];
    const spread = [...flags, '--shard-size', '500', '--processes', String(processes)];
    const refused = await run(spread);
    expect(refused.code, refused.stderr).toBe(3);
    expect(refused.run.verdictReason).toContain(
      `The probe would run out of local ports: the peak of ${peak} connections to one target address, from one ` +
        `source address, takes ${peak} ports of it`,
    );
    expect(refused.run.verdictReason).toContain(
      'spread the connections over 2 source addresses or more (--source-address A,B,…), or widen ' +
        'net.ipv4.ip_local_port_range; more processes do not help, as they share the source addresses',
    );
    expect(refused.run.verdictReason).not.toContain('file descriptors');
    expect(refused.stderr).not.toContain('probe processes (pids');
    expect(target.stats().accepted).toBe(0);
    // With the second address the check passes and the processes start; the run is stopped once they have.
    const started = new RegExp(`Started ${processes} probe processes \\(pids ([\\d, ]+)\\)`);
    let pids: number[] = [];
    const accepted = await runCli(
      ['run', target.url, '--json', '--store', store.directory, ...spread, '--source-address', '127.0.0.1,127.0.0.2'],
      {
        onStart: (child) => {
          let stderr = '';
          child.stderr?.on('data', (chunk: Buffer) => {
            stderr += chunk.toString();
            const match = started.exec(stderr);
            if (match && pids.length === 0) {
              pids = (match[1] ?? '').split(', ').map(Number);
              child.kill('SIGTERM');
            }
          });
        },
      },
    );
    expect(accepted.stderr).toContain('leaving from 127.0.0.1, 127.0.0.2 in turn');
    expect(pids).toHaveLength(processes);
    expect(accepted.stdout).not.toContain('local ports');
    expect(pids.filter(alive)).toEqual([]);
    await allClosed();
    expect(target.stats().open).toBe(0);
  });
});

describe('diagnose --processes 2', () => {
  it('runs the ramp over both processes and the experiments after it in this process', async () => {
    target = await startTargetSimulator({ cap: { limit: 150, response: { kind: 'status', status: 503 } } });
    const flags = ['--stages', '50,100,150,200', '--hold', '0.3', '--rate', '500', '--shard-size', '50'];
    const result = await runCli([
      'diagnose',
      target.url,
      '--json',
      '--store',
      store.directory,
      ...flags,
      '--processes',
      '2',
    ]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/Started 2 probe processes \(pids \d+, \d+\)/);
    const diagnosis = JSON.parse(result.stdout) as Diagnosis;
    expect(diagnosis.run?.ceiling).toEqual({ value: 150, reached: true });
    expect(diagnosis.verdict).toBe('explained');
    expect(diagnosis.findings.map((finding) => finding.kind)).toContain('concurrency-cap');
  });
});

describe('a --processes the run cannot take', () => {
  beforeEach(async () => {
    target = await startTargetSimulator({});
  });

  it.each([
    [
      ['--processes', 'many'],
      'error: --processes: must be a whole number of processes from 1 to 64, or auto, got "many"',
    ],
    [
      ['--stages', '10', '--processes', '2'],
      "error: --processes: 2 processes need at least 2 shards to share, but the plan's 10 connections make 1 " +
        'shard of at most 900 (--shard-size); give --shard-size 5 or less, or fewer processes',
    ],
  ])('exits 2 for %j before anything is sent', async (flags, message) => {
    const result = await runCli(['run', target.url, '--store', store.directory, ...flags]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(message);
    expect(target.stats().accepted).toBe(0);
  });
});
