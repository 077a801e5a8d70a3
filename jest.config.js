/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test', '<rootDir>/src', '<rootDir>/ufs-adapters'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022', parser: { syntax: 'typescript' } } }] },
  testTimeout: 60000,
  // Environment for every worker (and the processes tests start): test/setup-env.js.
  setupFiles: ['<rootDir>/test/setup-env.js'],
  // Integration suites start real servers; two workers match the 2-core CI machine.
  maxWorkers: 2,
  // The default output, plus the pass/fail/skip counts of the suites that run against Ceph RGW.
  reporters: ['default', '<rootDir>/test/servers/rgw-summary-reporter.js'],
};
