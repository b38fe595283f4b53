// What the record cache keeps in memory: its own frozen copies of live records, never a listing
// it folded in, and nothing of a job once it completed.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';

import { Interner } from '../../../controller/cache/intern.ts';
import { cachedCopy, RecordCache } from '../../../controller/cache/records.ts';
import type { JobRecord, RunnerRecord } from '../../../controller/store/types.ts';

// A full GC on demand, to see whether anything still holds a listing.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const collected = async (ref: WeakRef<object>) => {
  // A WeakRef's target lives until the current job ends: collect on a later turn.
  for (let i = 0; i < 5 && ref.deref(); i++) {
    await new Promise((resolve) => setTimeout(resolve, 0));
    gc();
  }
  return ref.deref() === undefined;
};

const T0 = Date.UTC(2026, 0, 1);
const iso = (ms: number) => new Date(ms).toISOString();

const runner = (i: number): RunnerRecord => ({
  name: `rctl-linux-${i}`,
  pool: 'linux',
  state: 'idle',
  labels: ['self-hosted', 'linux'],
  attempts: 1,
  taskArn: `arn:aws:ecs:us-east-1:123456789012:task/runnerctl/${i}`,
  createdAt: iso(T0),
  updatedAt: iso(T0),
  timeline: [{ at: iso(T0), event: 'idle' }],
  version: 3,
});

const job = (id: number, status: JobRecord['status']): JobRecord => ({
  id,
  runId: 1,
  runAttempt: 1,
  repository: 'acme/app',
  owner: 'acme',
  labels: ['self-hosted', 'linux'],
  status,
  ...(status === 'in_progress' ? { runnerName: `rctl-linux-${id}` } : {}),
  createdAt: iso(T0),
  updatedAt: iso(T0),
  version: status === 'completed' ? 3 : 2,
});

describe('record cache memory', () => {
  it('keeps its own frozen copies, not the listing it folded in nor its records', async () => {
    const cache = new RecordCache({ now: () => T0, finishedTailMs: 60_000, indexLagMs: 0 });
    let runners: RunnerRecord[] | undefined = Array.from({ length: 200 }, (_, i) => runner(i));
    let jobs: JobRecord[] | undefined = Array.from({ length: 200 }, (_, i) =>
      job(i, 'in_progress'),
    );
    const refs = [runners, runners[7]!, jobs, jobs[7]!].map((o) => new WeakRef(o));
    cache.relistRunners(runners, T0);
    cache.relistJobs(jobs, T0);
    runners = jobs = undefined;

    for (const ref of refs) expect(await collected(ref)).toBe(true);
    const cached = cache.runner('rctl-linux-7')!;
    expect(cached).toEqual(runner(7));
    expect(Object.isFrozen(cached) && Object.isFrozen(cached.labels)).toBe(true);
    expect(cache.jobOfRunner('rctl-linux-7')).toEqual(job(7, 'in_progress'));
    expect(cache.liveRunnerCount()).toBe(200);
  });

  it('holds nothing of a completed job but its id and version', async () => {
    const cache = new RecordCache({ now: () => T0, finishedTailMs: 60_000, indexLagMs: 0 });
    cache.putJob(job(1, 'in_progress'));
    let completed: JobRecord | undefined = job(1, 'completed');
    const ref = new WeakRef(completed);
    cache.putJob(completed);
    completed = undefined;
    expect(await collected(ref)).toBe(true);
    expect(cache.job(1)).toBeUndefined();
    expect(cache.jobOfRunner('rctl-linux-1')).toBeUndefined();
    expect(cache.openJobCount()).toBe(0);
  });

  it('copies a record whole, frozen, without touching the original', () => {
    const original = runner(1);
    const copy = cachedCopy(original);
    expect(copy).not.toBe(original);
    expect(copy).toEqual(original);
    expect(Object.isFrozen(copy)).toBe(true);
    expect(Object.isFrozen(original)).toBe(false);
  });

  it('shares one frozen label list among the records that have equal labels', () => {
    const cache = new RecordCache({ now: () => T0, finishedTailMs: 60_000, indexLagMs: 0 });
    cache.relistRunners(
      [runner(1), runner(2), { ...runner(3), labels: ['self-hosted', 'arm'] }],
      T0,
    );
    cache.putJob(job(4, 'in_progress'));
    const [a, b, c] = [1, 2, 3].map((i) => cache.runner(`rctl-linux-${i}`)!) as [
      RunnerRecord,
      RunnerRecord,
      RunnerRecord,
    ];
    expect(a.labels).toBe(b.labels);
    expect(cache.job(4)!.labels).toBe(a.labels);
    expect(c.labels).not.toBe(a.labels);
    expect(c.labels).toEqual(['self-hosted', 'arm']);
    expect(Object.isFrozen(a.labels)).toBe(true);
  });
});

describe('interner', () => {
  it('never takes one list for another, and stops growing at its bound', () => {
    const interner = new Interner(3);
    // Both join to the same key: still two lists.
    expect(interner.list(['a\u0000', 'b'])).toEqual(['a\u0000', 'b']);
    expect(interner.list(['a', '\u0000b'])).toEqual(['a', '\u0000b']);
    expect(interner.list(['x'])).toBe(interner.list(['x']));
    for (let i = 0; i < 100; i++) expect(interner.string(`value-${i}`)).toBe(`value-${i}`);
    expect(interner.size).toBeLessThanOrEqual(6);
  });
});
