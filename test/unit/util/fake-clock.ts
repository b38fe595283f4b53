// A manual clock for unit tests: time only moves when the test calls advance().
import type { Clock } from '../../../controller/util/clock.ts';

export interface FakeClock extends Clock {
  /** Moves time forward, waking every sleeper whose deadline passed (in deadline order). */
  advance(ms: number): Promise<void>;
  sleepers(): number;
}

export function fakeClock(start = 1_700_000_000_000): FakeClock {
  let now = start;
  let sleepers: { at: number; resolve: () => void }[] = [];
  const flush = async () => {
    for (let i = 0; i < 5; i++) await Promise.resolve();
    await new Promise((resolve) => setImmediate(resolve));
  };
  return {
    now: () => now,
    sleep(ms, signal) {
      return new Promise((resolve, reject) => {
        if (signal?.aborted) return reject(signal.reason);
        const entry = { at: now + Math.max(0, ms), resolve };
        sleepers.push(entry);
        signal?.addEventListener(
          'abort',
          () => {
            sleepers = sleepers.filter((s) => s !== entry);
            reject(signal.reason);
          },
          { once: true },
        );
      });
    },
    async advance(ms) {
      const target = now + ms;
      for (;;) {
        await flush();
        const due = sleepers.filter((s) => s.at <= target).sort((a, b) => a.at - b.at)[0];
        if (!due) break;
        now = Math.max(now, due.at);
        sleepers = sleepers.filter((s) => s !== due);
        due.resolve();
      }
      now = target;
      await flush();
    },
    sleepers: () => sleepers.length,
  };
}
