import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PROBE_VERSION } from '../../functions/engine/version.js';

describe('PROBE_VERSION', () => {
  it('matches the package version, so stored runs name the build that made them', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(PROBE_VERSION).toBe(pkg.version);
  });
});
