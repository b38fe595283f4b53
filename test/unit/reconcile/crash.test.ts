// A crash of the controller after each launch step, then a restart: exactly one runner, no leak.

import { describe, expect, it } from 'vitest';
import { JIT_CONFIG_ENV } from '../../../controller/api/constants.ts';
import { World } from '../../support/fakes/world.ts';

class CrashError extends Error {
  constructor(step: string) {
    super(`simulated crash after ${step}`);
    this.name = 'CrashError';
  }
}

type Step =
  'record written' | 'JIT generated' | 'configured stored' | 'task started' | 'launching stored';

function arm(w: World, step: Step) {
  let fired = false;
  const crash = (matches: boolean) => {
    if (matches && !fired) {
      fired = true;
      throw new CrashError(step);
    }
  };
  w.afterWrite = (op, record) => {
    const state = (record as { state?: string }).state;
    crash(step === 'record written' && op === 'createRunner');
    crash(step === 'configured stored' && op === 'updateRunner' && state === 'configured');
    crash(step === 'launching stored' && op === 'updateRunner' && state === 'launching');
  };
  w.github.afterCall = (call) => crash(step === 'JIT generated' && call === 'generateJitConfig');
  w.ecs.afterCall = (call) => crash(step === 'task started' && call === 'runTask');
  return () => fired;
}

const STEPS: Step[] = [
  'record written',
  'JIT generated',
  'configured stored',
  'task started',
  'launching stored',
];

describe('crash after each launch step', () => {
  for (const step of STEPS) {
    it(`after "${step}": the restarted controller ends with exactly one runner`, async () => {
      const w = new World();
      await w.pool('linux');
      await w.queue(1, ['linux']);
      const fired = arm(w, step);
      const first = w.controller({}, 'replica-a');
      await first.reconcileOnce();
      expect(fired()).toBe(true);
      await first.stop();

      // The process is gone; a new one starts once the lease is free.
      await w.clock.advance(20_000);
      const second = w.controller({}, 'replica-b');
      await second.reconcileOnce();
      w.bootTasks();
      await second.reconcileOnce();
      await second.reconcileOnce();

      const live = await w.live();
      expect(live).toHaveLength(1);
      const record = live[0]!;
      expect(record.state).toBe('idle');
      expect([...w.github.runners.values()]).toHaveLength(1);
      const gh = [...w.github.runners.values()][0]!;
      expect(gh).toMatchObject({ name: record.name, status: 'online', id: record.githubRunnerId });
      const running = w.ecs.running();
      expect(running).toHaveLength(1);
      expect(running[0]!.arn).toBe(record.taskArn);
      // Never a second task, not even one stopped later by garbage collection.
      expect(w.ecs.tasks.size).toBe(1);
      // The task runs the registration the record knows (its JIT config is that runner's).
      expect(w.github.jitConfigs.get(running[0]!.launch.environment[JIT_CONFIG_ENV]!)).toBe(gh.id);
      await second.stop();
    });
  }

  it('a JIT POST repeated by the retry plugin (409 on our own name) is resolved, not failed', async () => {
    const w = new World();
    await w.pool('linux');
    await w.queue(1, ['linux']);
    // The first POST succeeds server-side but its response is lost; the retry sees 409.
    let lost = false;
    const original = w.github.generateJitConfig.bind(w.github);
    w.github.generateJitConfig = async (scope, req) => {
      const result = await original(scope, req);
      if (!lost) {
        lost = true;
        return original(scope, req); // throws RunnerNameExistsError
      }
      return result;
    };
    const c = w.controller();
    await c.reconcileOnce();
    const live = await w.live();
    expect(live).toHaveLength(1);
    expect(live[0]!.state).toBe('launching');
    expect(w.github.runners.size).toBe(1);
    expect(w.ecs.running()).toHaveLength(1);
  });
});
