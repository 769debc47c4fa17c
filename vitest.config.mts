import { defineConfig } from 'vitest/config';

// Child processes, fork(2) and native waits need real processes: never run tests in worker threads.
export default defineConfig({
  test: {
    pool: 'forks',
    maxWorkers: 2,
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    globalSetup: ['test/helpers/global-setup.ts'],
    // The examples import the package by name (itself, built in dist/): Node loads it, as a user's
    // program does, so that its children find dist/ and functions it exports travel by reference.
    server: { deps: { external: [/\/dist\//] } },
  },
});
