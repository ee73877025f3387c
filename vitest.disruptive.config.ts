import { defineConfig } from 'vitest/config';

// Tests that take a shared server away (a broker restart): one file at a time, after the main suite.
export default defineConfig({
  test: {
    include: ['test/disruptive/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 300_000,
    hookTimeout: 180_000,
    fileParallelism: false,
  },
});
