import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Suites share the two CPU cores with PGlite and PostgreSQL; run files in parallel, tests in order.
    fileParallelism: true,
    maxWorkers: 2,
    setupFiles: ['reflect-metadata'],
  },
});
