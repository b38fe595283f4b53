// The fault "runner crashes before registration": some containers exit with an error shortly
// after they start, before the runner opened its session with GitHub, like a runner image whose
// entrypoint fails. The rest run the fake runner unchanged.

import type { ContainerRuntime } from '../sandbox/ecs/runtime.ts';
import type { Clock } from '../util/clock.ts';
import type { Random } from './random.ts';

/** Simulated time from container start to the crash. */
export const CRASH_AFTER_MS = 2_000;
export const CRASH_EXIT_CODE = 1;

export function crashingRuntime(
  inner: ContainerRuntime,
  options: {
    rate: number;
    random: Random;
    clock: Clock;
    onCrash?: (taskArn: string) => void;
    log?: (taskArn: string, line: string) => void;
  },
): ContainerRuntime {
  return {
    start(container) {
      if (!options.random.chance(options.rate)) return inner.start(container);
      options.onCrash?.(container.taskArn);
      const exited = options.clock
        .sleep(CRASH_AFTER_MS, container.signal)
        .catch(() => undefined)
        .then(() => {
          options.log?.(
            container.taskArn,
            'runner crashed before registration (injected by runnerctl simulate)',
          );
          return CRASH_EXIT_CODE;
        });
      return { exited };
    },
  };
}
