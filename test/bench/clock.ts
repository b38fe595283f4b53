// The benchmark's clock: simulated time running `factor` times faster than real time, anchored
// at an explicit instant so that two processes (the local cloud here, the controller in its own
// process) build the very same clock. Rate limits keep their meaning on it: GitHub's 180 JIT
// configs a minute are 180 per simulated minute, for the simulator and the controller alike.

import type { Clock } from '../../controller/util/clock.ts';

export interface ClockSpec {
  factor: number;
  /** Real epoch ms at which simulated time equals `realStartMs` too. */
  realStartMs: number;
}

export function benchClock(spec: ClockSpec): Clock {
  const { factor, realStartMs } = spec;
  if (!(factor > 0)) throw new RangeError(`clock speed factor must be > 0, got ${factor}`);
  return {
    now: () => realStartMs + (Date.now() - realStartMs) * factor,
    sleep: (ms, signal) =>
      new Promise<void>((resolve, reject) => {
        if (signal?.aborted) return reject(signal.reason);
        const onAbort = () => {
          clearTimeout(timer);
          reject(signal?.reason);
        };
        const timer = setTimeout(
          () => {
            signal?.removeEventListener('abort', onAbort);
            resolve();
          },
          Math.max(0, ms / factor),
        );
        signal?.addEventListener('abort', onAbort, { once: true });
      }),
  };
}
