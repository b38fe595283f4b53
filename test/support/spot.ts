// Spot interruption steps on the fake world, shared by the unit and dynalite tests.

import { expect } from 'vitest';
import { jobRecordFrom } from '../../controller/reconcile/jobs.ts';
import { poolSpec, type World } from './fakes/world.ts';

export const SPOT = {
  ecs: {
    ...poolSpec().ecs,
    capacityProviderStrategy: [{ capacityProvider: 'FARGATE_SPOT' as const, weight: 1 }],
  },
};

export async function busyOnSpot(w: World) {
  await w.pool('linux', SPOT);
  await w.queue(1, ['linux']);
  const c = w.controller();
  await c.reconcileOnce();
  w.bootTasks();
  await c.reconcileOnce();
  const [runner] = await w.live();
  await w.start(1, runner!.name);
  await c.reconcileOnce();
  expect((await w.store.getRunner(runner!.name))!.state).toBe('busy');
  const task = [...w.ecs.tasks.values()].find(
    (t) => t.tags['runnerctl.dev/runner'] === runner!.name,
  )!;
  expect(task.capacityProvider).toBe('FARGATE_SPOT');
  return { c, runner: runner!, task };
}

/** AWS reclaims the task; the runner vanishes; GitHub fails its job and sends completed. */
export async function interrupt(w: World, jobId: number, taskArn: string, conclusion = 'failure') {
  w.ecs.setStatus(taskArn, 'STOPPED', {
    stopCode: 'SpotInterruption',
    stoppedReason: 'Your Spot Task was interrupted.',
  });
  const job = w.github.jobs.get(jobId)!;
  w.github.complete(jobId, conclusion);
  await w.store.recordJob(jobRecordFrom(job, new Date(w.clock.now()).toISOString()));
}

/** The queued job GitHub created for a re-run reaches the store (its queued event). */
export async function deliverRerun(w: World, of: number) {
  const rerun = w.github.reruns.find((r) => r.of === of)!;
  const job = w.github.jobs.get(rerun.id)!;
  await w.store.recordJob(jobRecordFrom(job, new Date(w.clock.now()).toISOString()));
  return rerun.id;
}
