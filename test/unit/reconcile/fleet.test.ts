// A busy afternoon on a small fleet: 50 jobs across 3 pools whose labels overlap, GitHub handing
// jobs to whichever idle runner covers them (so pools' runners run each other's jobs), late and
// lost events. Everything completes and nothing is left behind.

import { describe, expect, it } from 'vitest';
import { World } from '../../support/fakes/world.ts';

/** A small deterministic random source (mulberry32). */
function rng(seed: number) {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('fleet', () => {
  it('runs 50 jobs across 3 overlapping pools to completion with no leak', async () => {
    const random = rng(42);
    const w = new World();
    await w.pool('linux', { labels: ['linux'], maxRunners: 8, timeouts: { idle: '2m' } });
    await w.pool('gpu', { labels: ['linux', 'gpu'], maxRunners: 4, timeouts: { idle: '2m' } });
    await w.pool('sized', {
      labels: ['arm'],
      maxRunners: 6,
      sizes: [
        { label: 'small', cpu: 512, memory: 1024 },
        { label: 'large', cpu: 4096, memory: 8192 },
      ],
      defaultSize: 'small',
      timeouts: { idle: '2m' },
    });
    const shapes = [['linux'], ['LINUX'], ['linux', 'gpu'], ['arm'], ['arm', 'large']];
    for (let id = 1; id <= 50; id++) {
      await w.queue(id, shapes[Math.floor(random() * shapes.length)]!);
    }
    const c = w.controller({ resyncMs: 60_000 });
    const running = new Map<number, number>(); // job -> rounds left
    for (let round = 0; round < 200; round++) {
      await c.reconcileOnce();
      w.bootTasks();
      for (const id of await w.dispatch((n) => Math.floor(random() * n))) {
        running.set(id, 1 + Math.floor(random() * 3));
      }
      for (const [id, left] of running) {
        if (left > 1) running.set(id, left - 1);
        else {
          running.delete(id);
          // One completed event in five is lost: the runner's exit tells the controller.
          if (random() < 0.2) {
            const job = w.github.jobs.get(id)!;
            w.github.complete(id);
            const task = [...w.ecs.tasks.values()].find(
              (t) => t.tags['runnerctl.dev/runner'] === job.runnerName,
            );
            if (task) w.ecs.setStatus(task.arn, 'STOPPED', { exitCode: 0 });
          } else {
            await w.complete(id);
          }
        }
      }
      await w.clock.advance(15_000);
      const done = [...w.github.jobs.values()].every((j) => j.status === 'completed');
      // A lost completed event is read back by the resync once its grace is over.
      const stored = (await w.store.listJobs()).every((j) => j.status === 'completed');
      if (done && stored && (await w.live()).length === 0) break;
    }

    expect([...w.github.jobs.values()].every((j) => j.conclusion === 'success')).toBe(true);
    expect(await w.live()).toEqual([]);
    expect(w.ecs.running()).toEqual([]);
    expect([...w.github.runners.values()]).toEqual([]);
    const jobs = await w.store.listJobs();
    expect(jobs.filter((j) => j.status !== 'completed')).toEqual([]);
    // Figures, not assertions: launches per job (overlapping pools steal each other's jobs).
    const launches = w.ecs.tasks.size;
    console.log(
      `fleet: 50 jobs, ${launches} tasks launched, ${(await w.runners()).length} records`,
    );
    expect(launches).toBeGreaterThanOrEqual(50);
  });
});
