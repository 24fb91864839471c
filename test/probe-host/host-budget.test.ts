import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  LAMBDA_MEMORY_HEADROOM_BYTES,
  lambdaBudgetSources,
  parseDescriptorLimit,
  parsePortRange,
  readHostBudget,
} from '../../functions/probe-host/host-budget.js';

const LIMITS = `Limit                     Soft Limit           Hard Limit           Units
Max cpu time              unlimited            unlimited            seconds
Max open files            200                  4096                 files
Max locked memory         8388608              8388608              bytes
`;

const folders: string[] = [];
afterEach(async () => {
  await Promise.all(folders.splice(0).map((folder) => rm(folder, { recursive: true, force: true })));
});

async function fakeProc(files: { limits?: string; fds?: number; portRange?: string }): Promise<string> {
  const root = await mkdtemp(path.join(tmpdir(), 'ws-ceiling-proc-'));
  folders.push(root);
  await mkdir(path.join(root, 'self', 'fd'), { recursive: true });
  await mkdir(path.join(root, 'sys', 'net', 'ipv4'), { recursive: true });
  if (files.limits !== undefined) await writeFile(path.join(root, 'self', 'limits'), files.limits);
  for (let fd = 0; fd < (files.fds ?? 0); fd += 1) await writeFile(path.join(root, 'self', 'fd', String(fd)), '');
  if (files.portRange !== undefined)
    await writeFile(path.join(root, 'sys', 'net', 'ipv4', 'ip_local_port_range'), files.portRange);
  return root;
}

describe('readHostBudget', () => {
  it('reads the soft descriptor limit, the open descriptors, the port range, free memory and heap', async () => {
    const procRoot = await fakeProc({ limits: LIMITS, fds: 13, portRange: '32768\t60999\n' });
    const budget = await readHostBudget({
      procRoot,
      freeMemory: () => 5e9,
      heap: () => ({ limitBytes: 4e9, usedBytes: 1e9 }),
    });
    expect(budget).toEqual({
      descriptorLimit: 200,
      openDescriptors: 12,
      ephemeralPorts: { low: 32768, high: 60999 },
      freeMemoryBytes: 5e9,
      heapAvailableBytes: 3e9,
    });
  });

  it('gives null for what it cannot read, without throwing', async () => {
    const procRoot = path.join(tmpdir(), 'ws-ceiling-no-such-proc');
    const budget = await readHostBudget({ procRoot });
    expect(budget).toMatchObject({ descriptorLimit: null, openDescriptors: null, ephemeralPorts: null });
    expect(budget.freeMemoryBytes).toBeGreaterThan(0);
  });

  it('reads this process on Linux: the limit ulimit -n reports, and some open descriptors', async () => {
    const budget = await readHostBudget();
    const ulimit = execFileSync('bash', ['-c', 'ulimit -n']).toString().trim();
    expect(String(budget.descriptorLimit ?? 'unlimited')).toBe(ulimit);
    expect(budget.openDescriptors).toBeGreaterThan(2);
    expect(budget.ephemeralPorts?.high).toBeGreaterThan(budget.ephemeralPorts?.low ?? Infinity);
  });

  it('says the descriptors are exhausted when it has none left to read them with', () => {
    // Under a limit of 64, open files until EMFILE, then read the budget (from the build in dist/).
    const module = new URL('../../dist/functions/probe-host/host-budget.js', import.meta.url).href;
    const script = `import fs from 'node:fs'; import { readHostBudget } from '${module}';
      const held = []; try { for (;;) held.push(fs.openSync('/dev/null', 'r')); } catch {}
      const budget = await readHostBudget(); process.stdout.write(JSON.stringify(budget));`;
    const output = execFileSync('bash', [
      '-c',
      'ulimit -n 64 && exec "$0" --input-type=module -e "$1"',
      process.execPath,
      script,
    ]).toString();
    expect(JSON.parse(output)).toMatchObject({ descriptorsExhausted: true, openDescriptors: null });
  });
});

describe('lambdaBudgetSources', () => {
  it("counts a Lambda sandbox's memory as its size less this process's RSS, with its smaller headroom", async () => {
    const MIB = 1024 ** 2;
    const budget = await readHostBudget(lambdaBudgetSources(512, () => 90 * MIB));
    expect(budget.freeMemoryBytes).toBe(422 * MIB);
    expect(budget.memoryHeadroomBytes).toBe(LAMBDA_MEMORY_HEADROOM_BYTES);
    expect((await readHostBudget(lambdaBudgetSources(128, () => 200 * MIB))).freeMemoryBytes).toBe(0);
  });
});

describe('parseDescriptorLimit', () => {
  it('takes the soft limit, and null for unlimited or a missing line', () => {
    expect(parseDescriptorLimit(LIMITS)).toBe(200);
    expect(parseDescriptorLimit(LIMITS.replace('200     ', 'unlimited'))).toBeNull();
    expect(parseDescriptorLimit('Max cpu time unlimited')).toBeNull();
  });
});

describe('parsePortRange', () => {
  it('parses "low high" and refuses anything else', () => {
    expect(parsePortRange('1024 65535\n')).toEqual({ low: 1024, high: 65535 });
    expect(parsePortRange('60999 32768')).toBeNull();
    expect(parsePortRange('any')).toBeNull();
  });
});
