import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { findSourceRoot, handlerEntry, sourceRoot } from '../../lib/source-root.js';
import { REPO_ROOT } from '../support/cdk.js';

let scratch: string;

beforeEach(() => {
  scratch = mkdtempSync(join(tmpdir(), 'cdk-source-root-'));
});

afterEach(() => {
  rmSync(scratch, { recursive: true, force: true });
});

/** A fake repository: package-lock.json and functions/handlers/. */
function fakeRepo(folder: string): string {
  mkdirSync(join(folder, 'functions', 'handlers'), { recursive: true });
  writeFileSync(join(folder, 'package-lock.json'), '{}');
  return folder;
}

describe('findSourceRoot', () => {
  it('walks up from a compiled folder such as dist/lib to the repository', () => {
    const repo = fakeRepo(join(scratch, 'repo'));
    const compiled = join(repo, 'dist', 'lib');
    mkdirSync(compiled, { recursive: true });
    expect(findSourceRoot([compiled])).toBe(repo);
  });

  it('falls back to the next start folder when the first is outside any repository', () => {
    const outside = join(scratch, 'private-out', 'lib');
    mkdirSync(outside, { recursive: true });
    const repo = fakeRepo(join(scratch, 'repo'));
    expect(findSourceRoot([outside, repo])).toBe(repo);
  });

  it('does not take a folder that has a lock file but no handlers', () => {
    const notRepo = join(scratch, 'other');
    mkdirSync(notRepo);
    writeFileSync(join(notRepo, 'package-lock.json'), '{}');
    expect(() => findSourceRoot([notRepo])).toThrow(/cannot find the ws-ceiling sources/);
  });
});

describe('sourceRoot', () => {
  it('finds this repository from the lib sources', () => {
    expect(join(sourceRoot(), '/')).toBe(join(REPO_ROOT, '/'));
  });
});

describe('handlerEntry', () => {
  it('points at the TypeScript source of a handler', () => {
    expect(handlerEntry('/repo', 'worker-handler')).toBe(join('/repo', 'functions', 'handlers', 'worker-handler.ts'));
  });
});
