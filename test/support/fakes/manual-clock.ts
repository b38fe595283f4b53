// A clock that only moves when the test says so. `advance` fires due sleeps in time order and
// lets the promise chains they wake run before firing the next.

import type { Clock } from '../../../controller/util/clock.ts';

interface Sleeper {
  dueMs: number;
  resolve: () => void;
}

export class ManualClock implements Clock {
  #now: number;
  #sleepers: Sleeper[] = [];

  constructor(startMs = Date.UTC(2026, 0, 1)) {
    this.#now = startMs;
  }

  now(): number {
    return this.#now;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const sleeper: Sleeper = {
        dueMs: this.#now + Math.max(0, ms),
        resolve: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      const onAbort = () => {
        this.#sleepers = this.#sleepers.filter((s) => s !== sleeper);
        reject(signal?.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#sleepers.push(sleeper);
    });
  }

  /** Number of sleeps waiting (for assertions on scheduled work). */
  get pendingSleeps(): number {
    return this.#sleepers.length;
  }

  async advance(ms: number): Promise<void> {
    const target = this.#now + ms;
    for (;;) {
      await flush();
      const next = this.#sleepers
        .filter((s) => s.dueMs <= target)
        .sort((a, b) => a.dueMs - b.dueMs)[0];
      if (!next) break;
      this.#sleepers = this.#sleepers.filter((s) => s !== next);
      this.#now = Math.max(this.#now, next.dueMs);
      next.resolve();
    }
    this.#now = target;
    await flush();
  }
}

/** Lets pending promise chains (several hops deep) run. */
export async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
}
