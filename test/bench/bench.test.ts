/**
 * Smoke test of `npm run bench` (bench/bench.ts, run from the build in
 * dist/bench/ as `npm test` builds it; WS_CEILING_BENCH points at another
 * build): a quick run with few connections and one repetition prints every
 * figure for the probe and the plain client with a finite ratio, the same
 * for the probe in 2 processes against one, and bad flags (an address this
 * machine does not have among them) exit 2 naming the flag. No timing
 * thresholds: the speed targets are the benchmark's to report, not this test's to assert.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const BENCH = process.env.WS_CEILING_BENCH ?? fileURLToPath(new URL('../../dist/bench/bench.js', import.meta.url));

const FIGURES = [
  'connections held at the end of the hold',
  'handshakes per second while ramping',
  'client CPU per handshake (µs)',
  'RSS per 1,000 held connections (MiB)',
  'event-loop delay p99 while holding (ms)',
];

/** Runs the built benchmark; kills it after 60 s so its traffic is bounded. */
function runBench(args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [BENCH, ...args]);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const killer = setTimeout(() => child.kill('SIGINT'), 60_000);
  return new Promise((resolve) =>
    child.on('close', (code) => {
      clearTimeout(killer);
      resolve({ code, stdout, stderr });
    }),
  );
}

describe('npm run bench', () => {
  it('prints every figure of the probe and plain ws with a finite probe/plain ratio, in --quick mode', async () => {
    const { code, stdout, stderr } = await runBench(['--quick', '--connections', '200']);
    expect(code, stderr).toBe(0);
    const lines = stdout.split('\n');
    for (const figure of FIGURES) {
      const row = lines.find((line) => line.startsWith(figure));
      const [, probe, plain, ratio] = /^.+?\s{2,}(\S+)\s+(\S+)\s+(\S+)×$/.exec(row ?? '') ?? [];
      expect(
        row &&
          Number.isFinite(Number(probe?.replaceAll(',', ''))) &&
          Number.isFinite(Number(plain?.replaceAll(',', ''))),
        row ?? figure,
      ).toBe(true);
      expect(Number.isFinite(Number(ratio)), row).toBe(true);
    }
    // The loopback server never refuses or closes: any false drop is the client's, and fails this test.
    expect(lines).toContain('Probe: held 200 with 0 false drops in the one run.');
    expect(lines).toContain('Plain ws: held 200 with 0 false drops in the one run.');
    expect(stdout).toMatch(/^handshake rate ≥ 0\.9× plain\s+\S+×\s+(met|NOT MET)$/m);
    expect(stdout).toMatch(/^memory per connection ≤ 1\.2× plain\s+\S+×\s+(met|NOT MET)$/m);
    expect(stdout).toMatch(
      /^holds the (descriptor limit|ephemeral ports) less headroom \(\d+\) with no false drops\s+1 of 1 runs clean at 200\s+not measured$/m,
    );
    expect(stderr).toMatch(/^run 1\/1 probe: held \d+\/200/m);
    expect(stderr).toMatch(/^run 1\/1 plain: held \d+\/200/m);
  });

  it('compares the probe in 2 processes with one, against a server of 2 processes, in --quick mode', async () => {
    const { code, stdout, stderr } = await runBench(['--quick', '--connections', '200', '--processes', '2']);
    expect(code, stderr).toBe(0);
    expect(stdout).toContain('split 100 + 100');
    const lines = stdout.split('\n');
    for (const figure of ['handshakes per second while ramping', 'probe CPU per handshake, all processes (µs)']) {
      const row = lines.find((line) => line.startsWith(figure)) ?? figure;
      const [, one, many, ratio] = /^.+?\s{2,}(\S+)\s+(\S+)\s+(\S+)×$/.exec(row) ?? [];
      expect(
        [one, many, ratio].every((value) => Number.isFinite(Number(value?.replaceAll(',', '')))),
        row,
      ).toBe(true);
    }
    // Each process holds its 100 to the end: any false drop is the probe's, and fails this test.
    expect(lines).toContain('1 process: held 200 with 0 false drops in the one run.');
    expect(lines).toContain('2 processes: held 200 with 0 false drops in the one run.');
    expect(stdout).toMatch(/^handshake rate ≥ 1\.6× one process\s+\S+×\s+(met|NOT MET)$/m);
    expect(stderr).toMatch(/^run 1\/1 2 processes: held 200\/200, 0 false drops/m);
  });

  it('exits 2 naming the flag when a flag is out of range', async () => {
    const { code, stderr } = await runBench(['--repeat', '0']);
    expect(code).toBe(2);
    expect(stderr).toContain('error: --repeat: must be a whole number from 1 to 50, got "0"');
    const processes = await runBench(['--processes', '17']);
    expect(processes.code).toBe(2);
    expect(processes.stderr).toContain('error: --processes: must be a whole number from 1 to 16, got "17"');
    const address = await runBench(['--quick', '--source-address', '127.0.0.1,192.0.2.1']);
    expect(address.code).toBe(2);
    expect(address.stderr).toContain('error: --source-address: 192.0.2.1 is not an address of this machine');
  });
});
