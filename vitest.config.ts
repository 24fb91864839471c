// Test runner settings: real sockets on loopback need generous timeouts, and
// timing-sensitive files run one at a time so they do not starve each other
// on a 2-core machine. The AWS SDK's notice that its 2027 releases need
// Node 22 is silenced, as the CLI silences it, so it does not bury the results.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 30_000,
    fileParallelism: false,
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    reporters: ['default', './test/support/plain-summary-reporter.ts'],
  },
});
