// The sandbox's container runtime: a RUNNING task runs the fake runner in-process with the JIT
// config the controller put in the task's environment override, like the runner image's
// entrypoint runs `./run.sh --jitconfig "$RUNNERCTL_JIT_CONFIG"`.

import { JIT_CONFIG_ENV } from '../../api/constants.ts';
import type { Clock } from '../../util/clock.ts';
import { runFakeRunner } from '../runner/fake-runner.ts';
import type { ContainerRuntime } from './runtime.ts';

export interface FakeRunnerRuntimeOptions {
  /** Share the simulation's clock, so job durations run on the same time as everything else. */
  clock?: Clock;
  /** Receives the runner's output lines (the JIT config never appears in them). */
  log?: (taskArn: string, line: string) => void;
  /** Long-poll wait the runner asks of the broker, in clock ms. */
  pollWaitMs?: number;
}

/** Exit code of a container whose command could not start (no JIT config given). */
const EXIT_NO_JIT_CONFIG = 1;

export function fakeRunnerRuntime(options: FakeRunnerRuntimeOptions = {}): ContainerRuntime {
  return {
    start({ taskArn, environment, signal }) {
      const log = (line: string) => options.log?.(taskArn, line);
      const encodedJitConfig = environment[JIT_CONFIG_ENV];
      if (!encodedJitConfig) {
        log(`An error occurred: no JIT config in ${JIT_CONFIG_ENV}.`);
        return { exited: Promise.resolve(EXIT_NO_JIT_CONFIG) };
      }
      // SIGTERM arrives as the abort of `signal`; the fake runner handles it as the real one.
      const exited = runFakeRunner({
        encodedJitConfig,
        signal,
        log,
        ...(options.clock ? { clock: options.clock } : {}),
        ...(options.pollWaitMs !== undefined ? { pollWaitMs: options.pollWaitMs } : {}),
      });
      return { exited };
    },
  };
}
