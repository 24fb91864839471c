// Test runner settings: real sockets on loopback need generous timeouts, and
// timing-sensitive files run one at a time so they do not starve each other
// on a 2-core machine.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 30_000,
    fileParallelism: false,
    reporters: ['default', './test/support/plain-summary-reporter.ts'],
  },
});
