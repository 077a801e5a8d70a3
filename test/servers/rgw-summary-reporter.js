/**
 * A jest reporter that states, for the suites that run against Ceph RGW (files named *rgw*),
 * how many tests passed, failed and were skipped, each file and in total, so that a CI log
 * shows the real-store tests ran (and were not skipped). Plain CommonJS: jest loads reporters
 * without the TypeScript transform.
 */
class RgwSummaryReporter {
  constructor() {
    this.files = [];
  }

  onTestResult(test, result) {
    if (!/rgw/i.test(require('node:path').basename(test.path))) return;
    this.files.push({
      file: require('node:path').relative(process.cwd(), test.path),
      passed: result.numPassingTests,
      failed: result.numFailingTests + (result.testExecError ? 1 : 0),
      skipped: result.numPendingTests + result.numTodoTests,
    });
  }

  onRunComplete() {
    if (this.files.length === 0) return;
    const total = { passed: 0, failed: 0, skipped: 0 };
    const lines = this.files.map((f) => {
      total.passed += f.passed;
      total.failed += f.failed;
      total.skipped += f.skipped;
      return `  ${f.file}: ${f.passed} passed, ${f.failed} failed, ${f.skipped} skipped`;
    });
    process.stderr.write(`\nTests against Ceph RGW:\n${lines.join('\n')}\n  total: ${total.passed} passed, ${total.failed} failed, ${total.skipped} skipped\n\n`);
  }
}

module.exports = RgwSummaryReporter;
