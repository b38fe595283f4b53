// The embedded default (`--store local`): dynalite persisted under a data directory.

import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

import type { RunnerPool } from '../../../controller/api/types.ts';
import { DataDirLockedError } from '../../../controller/store/errors.ts';
import { openStore } from '../../../controller/store/factory.ts';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

function pool(name: string, maxRunners = 3): RunnerPool {
  return {
    apiVersion: 'runnerctl.dev/v1alpha1',
    kind: 'RunnerPool',
    metadata: { name },
    spec: {
      github: { scope: 'org', organization: 'acme' },
      labels: ['linux'],
      maxRunners,
      ecs: { cluster: 'c', taskDefinition: 't', subnets: ['s'] },
    },
  };
}

describe('local store (dynalite persisted under --data-dir)', () => {
  let root: string;

  beforeAll(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'runnerctl-local-store-'));
  });

  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  test('state survives close and reopen of the same data directory', async () => {
    const dataDir = path.join(root, 'persist');
    const first = await openStore({ kind: 'local', dataDir });
    expect((await first.applyPool(pool('linux'))).result).toBe('created');
    await first.createRunner({
      name: 'rctl-1',
      pool: 'linux',
      state: 'idle',
      labels: ['linux'],
      attempts: 1,
      createdAt: '2026-01-01T00:00:00.000Z',
      timeline: [],
    });
    expect(await first.markSeen('delivery-1', 3600)).toBe(true);
    await first.close();
    await first.close(); // idempotent

    const second = await openStore({ kind: 'local', dataDir });
    try {
      expect((await second.applyPool(pool('linux'))).result).toBe('unchanged');
      expect((await second.getRunner('rctl-1'))?.state).toBe('idle');
      expect(await second.markSeen('delivery-1', 3600)).toBe(false);
      expect((await second.applyPool(pool('linux', 4))).record.generation).toBe(2);
    } finally {
      await second.close();
    }
    const third = await openStore({ kind: 'local', dataDir });
    try {
      expect((await third.getPool('linux'))?.spec.maxRunners).toBe(4);
    } finally {
      await third.close();
    }
  });

  test('a data directory held in this process fails with an error naming it', async () => {
    const dataDir = path.join(root, 'same-process');
    const holder = await openStore({ kind: 'local', dataDir });
    try {
      const err = await openStore({ kind: 'local', dataDir }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DataDirLockedError);
      expect((err as Error).message).toContain(`"${dataDir}" is in use`);
      // The failed attempt did not disturb the holder.
      expect((await holder.applyPool(pool('linux'))).result).toBe('created');
    } finally {
      await holder.close();
    }
    // Once released, the directory opens again.
    const next = await openStore({ kind: 'local', dataDir });
    expect((await next.getPool('linux'))?.name).toBe('linux');
    await next.close();
  });

  test('a data directory held by another process fails with an error naming it', async () => {
    const dataDir = path.join(root, 'other-process');
    const child = spawn(
      process.execPath,
      [path.join(REPO_ROOT, 'bin/run-ts.js'), 'test/support/hold-local-store.ts', dataDir],
      { cwd: REPO_ROOT, stdio: ['pipe', 'pipe', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (d: Buffer) => {
          if (d.toString().includes('ready')) resolve();
        });
        child.once('exit', (code) => reject(new Error(`holder exited ${code}: ${stderr}`)));
      });
      const err = await openStore({ kind: 'local', dataDir }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DataDirLockedError);
      expect((err as DataDirLockedError).dataDir).toBe(dataDir);
      expect((err as Error).message).toMatch(/in use by another runnerctl process/);
      // It names the holder and how to stop it.
      expect((err as DataDirLockedError).pid).toBe(child.pid);
      expect((err as Error).message).toContain(`process ${child.pid} holds it`);
      expect((err as Error).message).toContain(`kill ${child.pid}`);
    } finally {
      child.stdin.end();
      await exited;
    }
    // The holder closed cleanly: what it wrote is there.
    const store = await openStore({ kind: 'local', dataDir });
    try {
      expect((await store.getPool('held'))?.generation).toBe(1);
    } finally {
      await store.close();
    }
  });
});
