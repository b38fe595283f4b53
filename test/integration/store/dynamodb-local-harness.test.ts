// The DynamoDB Local harness refuses what it cannot trust and fails when it cannot run.

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

import {
  DYNAMODB_LOCAL_INTEGRITY,
  requireJava,
  verifyIntegrity,
} from '../../support/dynamodb-local.ts';

describe('DynamoDB Local harness', () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'runnerctl-harness-'));
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('a tarball that does not match the pinned integrity is refused', async () => {
    const file = path.join(dir, 'tampered.tgz');
    await writeFile(file, 'not the simulator');
    await expect(
      verifyIntegrity(file, DYNAMODB_LOCAL_INTEGRITY, 'amplify-dynamodb-simulator@2.9.30'),
    ).rejects.toThrow(
      /integrity mismatch for amplify-dynamodb-simulator@2\.9\.30: expected sha512-xTee/,
    );
  });

  test('missing Java fails with a message saying what to install', async () => {
    await expect(requireJava(path.join(dir, 'no-java-here'))).rejects.toThrow(
      /DynamoDB Local needs Java \(17 or newer\).*fails instead of skipping/s,
    );
  });
});
