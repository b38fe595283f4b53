import { describe, expect, it } from 'vitest';
import { scaledClock, systemClock } from '../../controller/util/clock.ts';

describe('clock', () => {
  it('scaled clock runs faster than real time', async () => {
    const clock = scaledClock(100, 0);
    const before = clock.now();
    await clock.sleep(1_000); // 10 ms of real time
    expect(clock.now() - before).toBeGreaterThanOrEqual(900);
  });

  it('sleep rejects with the abort reason', async () => {
    const controller = new AbortController();
    const pending = systemClock.sleep(10_000, controller.signal);
    controller.abort(new Error('stopped'));
    await expect(pending).rejects.toThrow('stopped');
  });

  it('refuses a non-positive speed factor', () => {
    expect(() => scaledClock(0)).toThrow(/factor/);
  });
});
