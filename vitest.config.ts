import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'src/**/*.test.ts'],
    // They restart shared servers: `npm test` runs them afterwards, alone (vitest.disruptive.config.ts).
    exclude: ['test/disruptive/**', '**/node_modules/**'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 180_000,
    // Two cores: files share one Kafka, one slapd, one registry; keep parallelism modest.
    maxWorkers: 2,
    minWorkers: 1,
  },
});
