import { describe, expect, it } from 'vitest';
import { SlidingWindow, SlidingWindowError } from '../../../controller/util/sliding-window.ts';
import { scaledClock } from '../../../controller/util/clock.ts';
import { fakeClock } from './fake-clock.ts';

const MINUTE = 60_000;

/** Largest number of times in any half-open window [t, t + windowMs) (times sorted). */
function maxInWindow(times: number[], windowMs: number): number {
  let max = 0;
  let start = 0;
  for (let end = 0; end < times.length; end++) {
    while (times[end]! - times[start]! >= windowMs) start += 1;
    max = Math.max(max, end - start + 1);
  }
  return max;
}

describe('SlidingWindow', () => {
  it('under constant demand grants exactly limit a minute for 10 minutes, never more in any 60 s', async () => {
    // The token bucket it replaces (burst 30, 150 more a minute) got 30 + 1,500 = 1,530 here.
    const clock = fakeClock();
    const t0 = clock.now();
    const window = new SlidingWindow({ limit: 180, clock });
    const grants: number[] = [];
    for (let i = 0; i < 2_500; i++) void window.take().then(() => grants.push(clock.now()));
    await clock.advance(10 * MINUTE - 1);
    expect(grants.length).toBeGreaterThanOrEqual(1_799);
    expect(grants.length).toBeLessThanOrEqual(1_801);
    expect(maxInWindow(grants, MINUTE)).toBeLessThanOrEqual(180);
    // Fixed (calendar) minutes too.
    for (let m = 0; m < 10; m++) {
      const inMinute = grants.filter((t) => t >= t0 + m * MINUTE && t < t0 + (m + 1) * MINUTE);
      expect(inMinute.length).toBeLessThanOrEqual(180);
    }
  });

  it('with demand arriving steadily above the limit, runs at the limit and never over it', async () => {
    const clock = fakeClock();
    const window = new SlidingWindow({ limit: 180, clock });
    const grants: number[] = [];
    // 4 calls a second (240 a minute) for 10 minutes, each answered 250 ms after its grant.
    for (let s = 0; s < 600 * 4; s++) {
      void window.acquire().then(async (grant) => {
        grants.push(clock.now());
        await clock.sleep(250);
        grant.done();
      });
      await clock.advance(250);
    }
    // The first minute runs at demand (240/min > 180), so the window fills and then it runs at
    // the limit: about 180 a minute, minus the 250 ms each grant is held.
    expect(grants.length).toBeGreaterThanOrEqual(1_790);
    expect(grants.length).toBeLessThanOrEqual(1_801);
    expect(maxInWindow(grants, MINUTE)).toBeLessThanOrEqual(180);
  });

  it('counts a held grant until done(), then from the time it was done', async () => {
    const clock = fakeClock();
    const window = new SlidingWindow({ limit: 1, windowMs: 10_000, clock });
    const first = await window.acquire();
    let next = false;
    void window.take().then(() => (next = true));
    await clock.advance(12_000);
    // Granted at 0, but still held: it counts as now (a limiter stamping grants would go on).
    expect(next).toBe(false);
    expect(window.available()).toBe(0);
    await clock.advance(3_000);
    first.done();
    first.done(); // idempotent
    // Stamped at 15 s: the next one goes at 25 s.
    await clock.advance(9_999);
    expect(next).toBe(false);
    await clock.advance(1);
    expect(next).toBe(true);
  });

  it('serves waiters in arrival order, a large request is not starved', async () => {
    const clock = fakeClock();
    const window = new SlidingWindow({ limit: 3, windowMs: 1_000, clock });
    const order: string[] = [];
    expect(window.tryTake(2)).toBe(true);
    void window.take(3).then(() => order.push('big'));
    for (let i = 0; i < 5; i++) void window.take(1).then(() => order.push(`small${i}`));
    await clock.advance(0);
    // One slot is free, but the big request is first in line.
    expect(order).toEqual([]);
    expect(window.pending()).toBe(6);
    await clock.advance(1_000);
    expect(order).toEqual(['big']);
    await clock.advance(1_000);
    expect(order).toEqual(['big', 'small0', 'small1', 'small2']);
    await clock.advance(1_000);
    expect(order).toEqual(['big', 'small0', 'small1', 'small2', 'small3', 'small4']);
    expect(window.pending()).toBe(0);
  });

  it('pauseUntil holds every caller until the retry-after time, then goes at the steady rate', async () => {
    const clock = fakeClock();
    const t0 = clock.now();
    const window = new SlidingWindow({ limit: 6, windowMs: MINUTE, clock });
    window.pauseUntil(t0 + 30_000);
    expect(window.available()).toBe(0);
    expect(window.tryTake()).toBe(false);
    const grants: number[] = [];
    for (let i = 0; i < 3; i++) void window.take().then(() => grants.push(clock.now() - t0));
    await clock.advance(29_999);
    expect(grants).toEqual([]);
    await clock.advance(40_001);
    // No burst after the pause: one every 60 s / 6.
    expect(grants).toEqual([40_000, 50_000, 60_000]);
    // An earlier pause never shortens a later one.
    window.pauseUntil(clock.now() + 10_000);
    window.pauseUntil(clock.now() + 5_000);
    expect(window.pausedUntil()).toBe(clock.now() + 10_000);
  });

  it('a pause on a huge limit ("no pacing") stays cheap and lets calls go after it', async () => {
    const clock = fakeClock();
    const window = new SlidingWindow({ limit: 1e9, clock });
    window.pauseUntil(clock.now() + 1_000);
    expect(window.tryTake()).toBe(false);
    await clock.advance(1_000);
    expect(window.tryTake(1_000)).toBe(true);
  });

  it('tryTake takes without waiting, refund gives the newest grant back', async () => {
    const clock = fakeClock();
    const window = new SlidingWindow({ limit: 2, clock });
    expect(window.tryTake()).toBe(true);
    await clock.advance(1_000);
    expect(window.tryTake()).toBe(true);
    expect(window.tryTake()).toBe(false);
    window.refund();
    expect(window.available()).toBe(1);
    expect(window.tryTake()).toBe(true);
  });

  it('a waiter can be aborted without blocking the ones behind it', async () => {
    const clock = fakeClock();
    const window = new SlidingWindow({ limit: 1, windowMs: 1_000, clock });
    expect(window.tryTake()).toBe(true);
    const abort = new AbortController();
    const first = window.acquire(abort.signal);
    let second = false;
    void window.take().then(() => (second = true));
    abort.abort(new Error('shutting down'));
    await expect(first).rejects.toThrow('shutting down');
    await clock.advance(1_000);
    expect(second).toBe(true);
    expect(window.pending()).toBe(0);
  });

  it('an aborted waiter leaves at once, even behind others', async () => {
    const clock = fakeClock();
    const window = new SlidingWindow({ limit: 1, windowMs: 1_000, clock });
    expect(window.tryTake()).toBe(true);
    void window.take();
    const abort = new AbortController();
    const second = window.take(1, abort.signal);
    abort.abort(new Error('gone'));
    await expect(second).rejects.toThrow('gone');
    expect(window.pending()).toBe(1);
    await clock.advance(1_000);
    expect(window.pending()).toBe(0);
    // The aborted caller took nothing: the next slot is free once the first grant left.
    await clock.advance(1_000);
    expect(window.available()).toBe(1);
  });

  it('refuses bad settings and requests larger than the limit', () => {
    const clock = fakeClock();
    expect(() => new SlidingWindow({ limit: 0, clock })).toThrow(SlidingWindowError);
    expect(() => new SlidingWindow({ limit: 1.5, clock })).toThrow(/limit must be an integer/);
    expect(() => new SlidingWindow({ limit: 1, windowMs: 0, clock })).toThrow(/windowMs/);
    const window = new SlidingWindow({ limit: 2, clock, name: 'jit' });
    expect(() => window.take(3)).toThrow(/jit: cannot take 3 grants/);
  });

  it('works on a scaled clock', async () => {
    const clock = scaledClock(1000);
    const window = new SlidingWindow({ limit: 1, windowMs: 1_000, clock });
    const start = clock.now();
    await window.take();
    await (await window.acquire()).done();
    await window.take();
    expect(clock.now() - start).toBeGreaterThanOrEqual(1_900);
  });
});
