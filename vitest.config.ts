import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Integration suites start servers (dynalite, DynamoDB Local, simulators); give them room.
    testTimeout: 30_000,
    hookTimeout: 120_000,
    globalSetup: [],
    reporters: ['default'],
    // The AWS SDK warns once per process that its 2027 releases need Node 22; the lock file pins
    // releases that support Node 20, so the warning is noise in test output.
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
  },
});
