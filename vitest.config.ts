import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Integration suites start servers (dynalite, DynamoDB Local, simulators); give them room.
    testTimeout: 30_000,
    hookTimeout: 120_000,
    globalSetup: [],
    reporters: ['default'],
  },
});
