// 50 jobs across the 3 example pools on the sandbox: 30 seed jobs ([self-hosted, 1|2], at most
// 10 runners), 15 linux-x64 jobs of three sizes (at most 20), 5 repository jobs (at most 5).
// Every job succeeds on a runner of its pool, sized jobs run on runners of their size, no pool
// ever has more live runners than its maxRunners, and after deleting the pools nothing is left.
// The longest e2e file (30-40 s on 2 busy cores): 50 JIT configs at GitHub's pace take a while.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planOutcome } from '../../controller/sandbox/plan.ts';
import { testSandbox, until, type TestSandbox } from './helpers.ts';

let sandbox: TestSandbox;
const REPO = 'foo-organisation/jit-fargate-test';

beforeAll(async () => {
  sandbox = await testSandbox({ taskStartMs: 300 });
});

afterAll(async () => {
  await sandbox?.close();
});

function jobs(prefix: string, n: number, runsOn: (i: number) => string[]) {
  return Array.from({ length: n }, (_, i) => ({
    name: `${prefix} (${i + 1})`,
    runsOn: runsOn(i),
    durationMs: 400,
  }));
}

describe('50 jobs across 3 pools', () => {
  it('runs every job on a runner of its pool and size, within maxRunners, and drains clean', async () => {
    const { app, cloud } = sandbox;
    const control = cloud.github.control;
    const maxRunners = Object.fromEntries(
      sandbox.pools.map((p) => [p.pool.metadata.name, p.pool.spec.maxRunners]),
    );
    const peak: Record<string, number> = {};
    let sampling = true;
    // A record once listed stays in every later listing (records are never deleted here, and
    // a runner's index key never changes, so no state change takes it out of a listing).
    const listed = new Set<string>();
    const dropped = new Set<string>();
    const sampler = (async () => {
      while (sampling) {
        const all = await app.store.listRunners();
        const names = new Set(all.map((r) => r.name));
        for (const name of listed) if (!names.has(name)) dropped.add(name);
        for (const name of names) listed.add(name);
        const live = all.filter((r) => r.state !== 'finished');
        const perPool: Record<string, number> = {};
        for (const r of live) perPool[r.pool] = (perPool[r.pool] ?? 0) + 1;
        for (const [pool, n] of Object.entries(perPool)) peak[pool] = Math.max(peak[pool] ?? 0, n);
        await new Promise((r) => setTimeout(r, 50));
      }
    })().catch(() => {});

    const sizes = ['', 'medium', 'large'];
    const runIds = [
      await sandbox.queue({
        repo: REPO,
        workflowName: 'seed',
        jobs: jobs('seed', 30, (i) => ['self-hosted', i < 20 ? '1' : '2']),
      }),
      await sandbox.queue({
        repo: REPO,
        workflowName: 'linux',
        jobs: jobs('linux', 15, (i) =>
          ['self-hosted', 'linux', 'x64', sizes[i % 3]!].filter(Boolean),
        ),
      }),
      await sandbox.queue({
        repo: REPO,
        workflowName: 'repo',
        jobs: jobs('repo', 5, () => ['self-hosted', 'jit-fargate-test']),
      }),
    ];

    await until(
      async () => (await planOutcome(control, runIds)).done,
      async () => {
        const o = await planOutcome(control, runIds);
        return `${o.jobs.filter((j) => j.status === 'completed').length}/50 completed`;
      },
      // Mostly the JIT pacing: 180 configs in any minute (a sliding window).
      50_000,
    ).finally(() => {
      sampling = false;
    });
    await sampler;
    expect([...dropped], 'records missing from a later listing').toEqual([]);
    const outcome = await planOutcome(control, runIds);
    expect(outcome.jobs).toHaveLength(50);
    expect(outcome.succeeded).toBe(true);

    // Each job on its own runner, of the pool its labels match.
    const records = new Map((await app.store.listRunners()).map((r) => [r.name, r]));
    expect(new Set(outcome.jobs.map((j) => j.runnerName)).size).toBe(50);
    for (const job of outcome.jobs) {
      const pool = job.labels.includes('linux')
        ? 'linux-x64'
        : job.labels.includes('jit-fargate-test')
          ? 'jit-fargate-test'
          : 'seed';
      const record = records.get(job.runnerName!);
      expect(record?.pool, `${job.name} ran on ${job.runnerName}`).toBe(pool);
      // A job that names a size runs on a runner of that size (with the size's cpu/memory).
      for (const size of ['medium', 'large']) {
        if (job.labels.includes(size)) {
          expect(record?.size).toBe(size);
          expect(record?.labels).toContain(size);
        }
      }
    }
    const perPool: Record<string, number> = {};
    for (const r of records.values()) perPool[r.pool] = (perPool[r.pool] ?? 0) + 1;
    console.log(
      `fifty-jobs: ${records.size} runner records for 50 jobs ${JSON.stringify(perPool)}`,
    );
    // Every runner record runs at most one job, so records beyond 50 are runners that ran none:
    // the linux-x64 pool's warm runner (minIdle 1), and one per unsized linux-x64 job that GitHub
    // gave to a sized runner (5 such jobs), whose own sized job then needed another runner.
    // Late job events never add any (docs/reconcile.md, "How many runners").
    expect(perPool.seed, 'seed records').toBeLessThanOrEqual(30);
    expect(perPool['jit-fargate-test'], 'jit-fargate-test records').toBeLessThanOrEqual(5);
    expect(perPool['linux-x64'], 'linux-x64 records').toBeLessThanOrEqual(15 + 1 + 5);
    const large = [...records.values()].find((r) => r.size === 'large');
    expect(large).toMatchObject({ cpu: 4096, memory: 16384 });

    // Never more live runners than a pool allows.
    for (const [pool, n] of Object.entries(peak)) {
      expect(n, `peak of ${pool}`).toBeLessThanOrEqual(maxRunners[pool]!);
    }
    expect(peak.seed).toBeGreaterThan(1);

    await sandbox.deletePools();
    await until(
      async () =>
        (await sandbox.leftovers()).length === 0 && (await app.store.listPools()).length === 0,
      async () => (await sandbox.leftovers()).join(', '),
    );
  }, 80_000);
});
