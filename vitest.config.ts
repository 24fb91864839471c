// Test runner settings: real sockets on loopback need generous timeouts. Files
// run two at a time, except the ones whose findings depend on timing under
// load (diagnose's experiments, rehearsals and probe processes, the
// benchmark): they run one at a time, after the others, so they never starve
// each other on a 2-core machine. The AWS SDK's notice that its 2027 releases
// need Node 22 is silenced, as the CLI silences it, so it does not bury the
// results.
import { defineConfig } from 'vitest/config';

/** Files that run alone: each measures rates, windows or process start times that another file's load would skew. */
const TIMING_SENSITIVE = [
  'test/diagnose/**/*.test.ts',
  'test/cli/diagnose-command.test.ts',
  'test/cli/run-processes.test.ts',
  'test/rehearsal/**/*.test.ts',
  'test/cli/rehearse-command.test.ts',
  'test/lambda-sandbox/**/*.test.ts',
  'test/bench/**/*.test.ts',
];

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 30_000,
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    reporters: ['default', './test/support/plain-summary-reporter.ts'],
    projects: [
      {
        extends: true,
        test: {
          name: 'two-at-a-time',
          include: ['test/**/*.test.ts'],
          exclude: TIMING_SENSITIVE,
          maxWorkers: 2,
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: 'one-at-a-time',
          include: TIMING_SENSITIVE,
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
