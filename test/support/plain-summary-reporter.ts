/**
 * A vitest reporter that ends the run with one plain line, `tests: N passed,
 * N failed, N skipped`, which CI tools that do not know vitest can read.
 * It runs alongside the default reporter.
 */
import type { Reporter, TestModule } from 'vitest/node';

/** Prints the plain closing line after every run. */
export default class PlainSummaryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    const counts = { passed: 0, failed: 0, skipped: 0 };
    for (const module of testModules) {
      for (const test of module.children.allTests()) {
        const state = test.result().state;
        if (state === 'passed') counts.passed += 1;
        else if (state === 'failed') counts.failed += 1;
        else counts.skipped += 1;
      }
    }
    process.stdout.write(`\ntests: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped\n`);
  }
}
