/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { diagnostics: false }] },
  // The client package's sources import each other as `./x.js` (what its ES module build needs).
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  globalSetup: '<rootDir>/test/setup/global-setup.ts',
  globalTeardown: '<rootDir>/test/setup/global-teardown.ts',
  // Every answer of a test gateway is checked against the OpenAPI document.
  setupFilesAfterEnv: ['<rootDir>/test/setup/openapi-answers.ts'],
  testTimeout: 20000,
  // Under CI one file at a time: many suites run real processes (Redis, Sentinel, a cluster,
  // nginx, gateways) with bounds of a second, and two such suites side by side on a 2-core
  // machine starve each other's failovers and timers.
  maxWorkers: process.env.CI === 'true' ? 1 : 2,
};
