import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // CI asks for a JSON report too, to print the exact "N passed, N failed" line.
    reporters: process.env.QRGATE_TEST_REPORT ? ['default', 'json'] : ['default'],
    outputFile: process.env.QRGATE_TEST_REPORT ? { json: process.env.QRGATE_TEST_REPORT } : undefined,
  },
});
