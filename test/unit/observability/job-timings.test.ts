import { describe, expect, it } from 'vitest';
import { jobTimings, launchedAtMs } from '../../../controller/observability/job-timings.ts';
import type { JobRecord, RunnerRecord } from '../../../controller/store/types.ts';

const T0 = Date.parse('2026-11-27T12:00:00Z');
const iso = (s: number) => new Date(T0 + s * 1000).toISOString();

function runner(events: [string, number][]): RunnerRecord {
  return {
    name: 'rctl-linux-1',
    pool: 'linux',
    state: 'busy',
    labels: [],
    attempts: 1,
    createdAt: iso(0),
    updatedAt: iso(0),
    timeline: events.map(([event, s]) => ({ event, at: iso(s) })),
    version: 1,
  };
}

function job(overrides: Partial<JobRecord> = {}): JobRecord {
  return {
    id: 7,
    runId: 1,
    runAttempt: 1,
    repository: 'acme/app',
    owner: 'acme',
    labels: ['linux'],
    status: 'in_progress',
    createdAt: iso(10),
    startedAt: iso(75),
    runnerName: 'rctl-linux-1',
    updatedAt: iso(75),
    version: 2,
    ...overrides,
  };
}

function setup(record: RunnerRecord | undefined | Error) {
  const observed: { pool: string; t: Record<string, number> }[] = [];
  const observe = jobTimings({
    metrics: { jobStarted: (pool, t) => observed.push({ pool, t }) },
    store: {
      getRunner: () => (record instanceof Error ? Promise.reject(record) : Promise.resolve(record)),
    },
    runnerNamePrefix: 'rctl',
  });
  return { observed, observe };
}

describe('job timings', () => {
  it('the launch is the latest task start of the runner (a relaunch replaces the first)', () => {
    expect(
      launchedAtMs(
        runner([
          ['created', 0],
          ['task-started', 5],
          ['relaunch', 30],
          ['task-started', 40],
          ['idle', 60],
        ]),
      ),
    ).toBe(T0 + 40_000);
    expect(launchedAtMs(runner([['created', 0]]))).toBeUndefined();
  });

  it('observes a started job once, with its queued, launch and start times', async () => {
    const { observed, observe } = setup(runner([['task-started', 20]]));
    await observe(job());
    await observe(job({ status: 'completed' }));
    expect(observed).toEqual([
      {
        pool: 'linux',
        t: { queuedAtMs: T0 + 10_000, launchedAtMs: T0 + 20_000, startedAtMs: T0 + 75_000 },
      },
    ]);
  });

  it('ignores queued jobs, jobs run elsewhere and jobs without a start time', async () => {
    const { observed, observe } = setup(runner([['task-started', 20]]));
    await observe(job({ status: 'queued', startedAt: undefined, runnerName: undefined }));
    await observe(job({ id: 8, runnerName: 'GitHub Actions 12' }));
    await observe(job({ id: 9, startedAt: undefined }));
    expect(observed).toEqual([]);
  });

  it('without the runner record (expired, store error) only the start is observed', async () => {
    const { observed, observe } = setup(new Error('store down'));
    await observe(job({ pool: 'linux' }));
    expect(observed).toEqual([
      { pool: 'linux', t: { queuedAtMs: T0 + 10_000, startedAtMs: T0 + 75_000 } },
    ]);
  });
});
