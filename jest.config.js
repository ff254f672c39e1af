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
  maxWorkers: 2,
};
