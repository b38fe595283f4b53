// Job confirmation (docs/reconcile.md "Job confirmation"): jobs first seen in unsigned
// (EventBridge) events launch nothing until GitHub's listing of their run shows them queued; one
// listing confirms a whole matrix; an unsigned `completed` is a claim that cannot end a queued
// job; signed webhooks are trusted as they are.

import { describe, expect, it } from 'vitest';
import { ingest } from '../../../controller/events/ingest.ts';
import type { WorkflowJobEvent } from '../../../controller/events/normalise.ts';
import type { WorkflowJob } from '../../../controller/github/types.ts';
import {
  JobConfirmer,
  type ConfirmationCallResult,
} from '../../../controller/reconcile/confirm.ts';
import { createPoolReconciler } from '../../../controller/reconcile/pool/reconcile.ts';
import { mergeJob } from '../../../controller/store/job-merge.ts';
import { REPO, World } from '../../support/fakes/world.ts';

function event(
  job: Partial<WorkflowJob> & { id: number; runId: number },
  action: WorkflowJobEvent['action'],
  source: WorkflowJobEvent['source'],
): WorkflowJobEvent {
  const repository = job.repository ?? REPO;
  return {
    action,
    source,
    dedupKey: `workflow_job:${job.id}:1:${action}`,
    job: {
      id: job.id,
      runId: job.runId,
      runAttempt: 1,
      repository,
      owner: repository.split('/')[0]!,
      labels: job.labels ?? ['self-hosted', 'linux'],
      status: action,
      visibility: 'private',
      createdAt: new Date(0).toISOString(),
      ...(action === 'completed'
        ? { conclusion: 'success', completedAt: new Date().toISOString() }
        : {}),
    },
  };
}

function setup() {
  const w = new World();
  const calls: ConfirmationCallResult[] = [];
  const confirmer = new JobConfirmer({
    github: w.github,
    clock: w.clock,
    onCall: (r) => calls.push(r),
  });
  const ctx = { ...w.context(), confirmer };
  const reconcile = createPoolReconciler(ctx);
  const deliver = (e: WorkflowJobEvent) => ingest(e, { store: w.store, clock: w.clock });
  return { w, calls, confirmer, reconcile, deliver };
}

describe('job confirmation', () => {
  it('a forged queued event for a job GitHub does not have launches nothing', async () => {
    const { w, calls, reconcile, deliver } = setup();
    await w.pool('ci');
    await deliver(event({ id: 7001, runId: 99 }, 'queued', 'eventbridge'));
    await reconcile('ci');
    expect(await w.live()).toHaveLength(0);
    expect(w.ecs.running()).toHaveLength(0);
    expect((await w.store.getJob(7001))!.confirmation).toBe('pending');
    expect(calls).toContain('not_found');
    // The unsigned event did not make its repository one the resync reads.
    expect(await w.store.listRepositories()).toEqual([]);
    const status = (await w.store.getPool('ci'))!.status!;
    expect(status.queuedJobs).toBe(0);
  });

  it('one listing of the run confirms every job of a matrix first seen unsigned', async () => {
    const { w, calls, confirmer, reconcile, deliver } = setup();
    await w.pool('ci', { maxRunners: 10 });
    for (let i = 1; i <= 5; i++) {
      w.github.queueJob({
        id: 100 + i,
        runId: 50,
        labels: ['self-hosted', 'linux'],
        repository: REPO,
      });
    }
    for (let i = 1; i <= 5; i++) {
      await deliver(event({ id: 100 + i, runId: 50 }, 'queued', 'eventbridge'));
    }
    await reconcile('ci');
    expect(await w.live()).toHaveLength(5);
    for (let i = 1; i <= 5; i++) {
      expect((await w.store.getJob(100 + i))!.confirmation).toBe('confirmed');
    }
    expect(calls.length).toBeGreaterThanOrEqual(1);
    expect(calls.length).toBeLessThanOrEqual(1);
    expect(confirmer.size).toBe(1);
    expect((await w.store.listRepositories()).map((r) => r.fullName)).toEqual([REPO]);
  });

  it('a confirmation records its repository as seen at most once a minute, before the launch', async () => {
    const { w, reconcile, deliver } = setup();
    await w.pool('ci', { maxRunners: 10 });
    const seenAt = async () => (await w.store.listRepositories())[0]?.lastSeenAt;
    const queue = async (id: number, runId: number) => {
      w.github.queueJob({ id, runId, labels: ['self-hosted', 'linux'], repository: REPO });
      await deliver(event({ id, runId }, 'queued', 'eventbridge'));
      await reconcile('ci');
    };
    await queue(201, 61);
    const first = await seenAt();
    expect(first).toBeDefined();
    await w.clock.advance(30_000);
    await queue(202, 62);
    // Confirmed and launched, without a second write of the repository.
    expect((await w.store.getJob(202))!.confirmation).toBe('confirmed');
    expect(await w.live()).toHaveLength(2);
    expect(await seenAt()).toBe(first);
    await w.clock.advance(30_000);
    await queue(203, 63);
    expect(Date.parse((await seenAt())!)).toBeGreaterThan(Date.parse(first!));
  });

  it('a job GitHub already shows running is recorded so, not launched for', async () => {
    const { w, reconcile, deliver } = setup();
    await w.pool('ci');
    w.github.queueJob({ id: 201, runId: 60, labels: ['self-hosted', 'linux'], repository: REPO });
    Object.assign(w.github.jobs.get(201)!, { status: 'in_progress', runnerName: 'someone-else' });
    await deliver(event({ id: 201, runId: 60 }, 'queued', 'eventbridge'));
    await reconcile('ci');
    expect(await w.live()).toHaveLength(0);
    expect((await w.store.getJob(201))!.status).toBe('in_progress');
  });

  it('a forged completed for a real queued job does not stop it getting a runner', async () => {
    const { w, reconcile, deliver } = setup();
    await w.pool('ci');
    w.github.queueJob({ id: 301, runId: 70, labels: ['self-hosted', 'linux'], repository: REPO });
    await deliver(event({ id: 301, runId: 70 }, 'queued', 'eventbridge'));
    await deliver(event({ id: 301, runId: 70 }, 'completed', 'eventbridge'));
    const claimed = (await w.store.getJob(301))!;
    expect(claimed.status).toBe('queued');
    expect(claimed.claimedCompletion).toBeDefined();
    w.clock.advance(1_000);
    await reconcile('ci');
    // Refuted by a listing taken after the claim (the first one may have been before it).
    for (let i = 0; i < 5 && (await w.live()).length === 0; i++) {
      w.clock.advance(11_000);
      await reconcile('ci');
    }
    expect(await w.live()).toHaveLength(1);
    const job = (await w.store.getJob(301))!;
    expect(job.status).toBe('queued');
    expect(job.claimedCompletion).toBeUndefined();
  });

  it('a forged completed arriving first does not block the real job', async () => {
    const { w, reconcile, deliver } = setup();
    await w.pool('ci');
    w.github.queueJob({ id: 401, runId: 80, labels: ['self-hosted', 'linux'], repository: REPO });
    await deliver(event({ id: 401, runId: 80 }, 'completed', 'eventbridge'));
    await deliver(event({ id: 401, runId: 80 }, 'queued', 'eventbridge'));
    await reconcile('ci');
    expect(await w.live()).toHaveLength(1);
  });

  it('a real completed of a cancelled queued job, first seen unsigned, ends it after GitHub says so', async () => {
    const { w, reconcile, deliver } = setup();
    await w.pool('ci');
    w.github.queueJob({ id: 501, runId: 90, labels: ['self-hosted', 'linux'], repository: REPO });
    await deliver(event({ id: 501, runId: 90 }, 'queued', 'eventbridge'));
    Object.assign(w.github.jobs.get(501)!, { status: 'completed', conclusion: 'cancelled' });
    await deliver(event({ id: 501, runId: 90 }, 'completed', 'eventbridge'));
    await reconcile('ci');
    expect(await w.live()).toHaveLength(0);
    expect((await w.store.getJob(501))!.status).toBe('completed');
  });

  it('signed webhooks are trusted: no listing, the runner launches at once', async () => {
    const { w, calls, reconcile, deliver } = setup();
    await w.pool('ci');
    await deliver(event({ id: 601, runId: 95 }, 'queued', 'webhook'));
    await reconcile('ci');
    expect(await w.live()).toHaveLength(1);
    expect(calls).toEqual([]);
    // A signed completed ends the job as it says.
    await deliver(event({ id: 601, runId: 95 }, 'completed', 'webhook'));
    expect((await w.store.getJob(601))!.status).toBe('completed');
  });

  it('an unsigned completed of a job our runner ran is settled by the runner exiting, without a call', async () => {
    const { w, calls, reconcile, deliver } = setup();
    await w.pool('ci');
    await w.queue(701, ['linux']);
    await reconcile('ci');
    w.bootTasks();
    await reconcile('ci');
    expect(await w.dispatch()).toEqual([701]);
    await reconcile('ci');
    const job = w.github.jobs.get(701)!;
    w.github.complete(701, 'success');
    await deliver({
      ...event({ id: 701, runId: job.runId }, 'completed', 'eventbridge'),
      job: {
        ...event({ id: 701, runId: job.runId }, 'completed', 'eventbridge').job,
        runnerName: job.runnerName!,
      },
    });
    expect((await w.store.getJob(701))!.status).toBe('in_progress');
    const task = w.ecs.running().find((t) => t.tags['runnerctl.dev/runner'] === job.runnerName)!;
    w.ecs.setStatus(task.arn, 'STOPPED', { exitCode: 0, stopCode: 'EssentialContainerExited' });
    await reconcile('ci');
    const done = (await w.store.getJob(701))!;
    expect(done.status).toBe('completed');
    expect(done.conclusion).toBe('success');
    expect(calls).toEqual([]);
  });
});

describe('mergeJob', () => {
  const stored = {
    id: 1,
    runId: 2,
    runAttempt: 1,
    repository: 'acme/app',
    owner: 'acme',
    labels: ['self-hosted', 'linux'],
    status: 'queued' as const,
    visibility: 'public' as const,
    confirmation: 'confirmed' as const,
    createdAt: '2026-01-01T00:00:00Z',
    updatedAt: '2026-01-01T00:00:00Z',
    version: 1,
  };

  it('an unsigned write never changes what a job is, only how far along it is', () => {
    const merged = mergeJob(stored, {
      ...stored,
      repository: 'acme/other',
      labels: ['self-hosted', 'gpu'],
      visibility: 'private',
      status: 'in_progress',
      runnerName: 'r1',
      confirmation: 'pending',
    })!;
    expect(merged).toMatchObject({
      repository: 'acme/app',
      labels: ['self-hosted', 'linux'],
      visibility: 'public',
      confirmation: 'confirmed',
      status: 'in_progress',
      runnerName: 'r1',
    });
  });

  it("GitHub's word clears a claimed completion; a write behind the stored status is refused", () => {
    const claimed = { ...stored, claimedCompletion: { claimedAt: '2026-01-01T00:00:01Z' } };
    expect(mergeJob(claimed, { ...stored, confirmation: 'confirmed' })!.claimedCompletion).toBe(
      undefined,
    );
    expect(mergeJob({ ...stored, status: 'completed' }, stored)).toBeUndefined();
  });

  it('an unsigned claim lands on a record a queued event created meanwhile, and never replaces one', () => {
    const pending = { ...stored, confirmation: 'pending' as const };
    const claim = { claimedAt: '2026-01-01T00:00:02Z', conclusion: 'success' as const };
    const merged = mergeJob(pending, { ...pending, claimedCompletion: claim })!;
    expect(merged.claimedCompletion).toEqual(claim);
    const first = { claimedAt: '2026-01-01T00:00:01Z' };
    const again = mergeJob(
      { ...pending, claimedCompletion: first },
      { ...pending, claimedCompletion: claim },
    )!;
    expect(again.claimedCompletion).toEqual(first);
  });
});
