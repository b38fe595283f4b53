import { describe, expect, it } from 'vitest';
import { TokenBucket, TokenBucketError } from '../../../controller/util/token-bucket.ts';
import { scaledClock } from '../../../controller/util/clock.ts';
import { fakeClock } from './fake-clock.ts';

describe('TokenBucket', () => {
  it('hands out a full burst at once, then paces at the refill rate', async () => {
    const clock = fakeClock();
    const bucket = new TokenBucket({ capacity: 3, refillPerSecond: 1, clock });
    const got: number[] = [];
    for (let i = 0; i < 5; i++) void bucket.take().then(() => got.push(i));
    await clock.advance(0);
    expect(got).toEqual([0, 1, 2]);
    await clock.advance(999);
    expect(got).toEqual([0, 1, 2]);
    await clock.advance(1);
    expect(got).toEqual([0, 1, 2, 3]);
    await clock.advance(1000);
    expect(got).toEqual([0, 1, 2, 3, 4]);
    expect(bucket.pending()).toBe(0);
  });

  it('takeSpare leaves the reserve to take(): background work never delays a waiting call', async () => {
    const clock = fakeClock();
    const bucket = new TokenBucket({ capacity: 5, refillPerSecond: 1, clock });
    const background: number[] = [];
    for (let i = 0; i < 10; i++) void bucket.takeSpare(1, 2).then(() => background.push(i));
    await clock.advance(0);
    // Everything above the reserve of 2 went to the background, then it waits.
    expect(background).toEqual([0, 1, 2]);
    const foreground: string[] = [];
    void bucket.take().then(() => foreground.push('a'));
    void bucket.take().then(() => foreground.push('b'));
    await clock.advance(0);
    // The reserve is there for them at once, with 7 background takes still queued.
    expect(foreground).toEqual(['a', 'b']);
    // A third waits for the refill, ahead of the background.
    void bucket.take().then(() => foreground.push('c'));
    await clock.advance(1000);
    expect(foreground).toEqual(['a', 'b', 'c']);
    expect(background).toHaveLength(3);
    // With nobody waiting, the background gets only what refills above the reserve.
    await clock.advance(3000);
    expect(background).toHaveLength(4);
    expect(bucket.available()).toBe(2);
    await clock.advance(6000);
    expect(background).toHaveLength(10);
  });

  it('serves waiters in arrival order, a large request is not starved', async () => {
    const clock = fakeClock();
    const bucket = new TokenBucket({ capacity: 5, refillPerSecond: 1, clock, initialTokens: 0 });
    const order: string[] = [];
    void bucket.take(5).then(() => order.push('big'));
    void bucket.take(1).then(() => order.push('small'));
    await clock.advance(4000);
    expect(order).toEqual([]);
    await clock.advance(1000);
    expect(order).toEqual(['big']);
    await clock.advance(1000);
    expect(order).toEqual(['big', 'small']);
  });

  it('never exceeds capacity + rate * t over any window', async () => {
    const clock = fakeClock();
    const bucket = new TokenBucket({ capacity: 10, refillPerSecond: 2, clock });
    let taken = 0;
    for (let i = 0; i < 100; i++) void bucket.take().then(() => taken++);
    await clock.advance(10_000);
    expect(taken).toBe(10 + 2 * 10);
  });

  it('pauseUntil holds every caller until the retry-after time, then restarts empty', async () => {
    const clock = fakeClock();
    const bucket = new TokenBucket({ capacity: 5, refillPerSecond: 1, clock });
    bucket.pauseUntil(clock.now() + 30_000);
    expect(bucket.available()).toBe(0);
    expect(bucket.tryTake()).toBe(false);
    let done = false;
    void bucket.take().then(() => (done = true));
    await clock.advance(29_999);
    expect(done).toBe(false);
    await clock.advance(1_001);
    expect(done).toBe(true);
    // An earlier pause never shortens a later one.
    bucket.pauseUntil(clock.now() + 10_000);
    bucket.pauseUntil(clock.now() + 5_000);
    expect(bucket.pausedUntil()).toBe(clock.now() + 10_000);
  });

  it('tryTake takes without waiting', () => {
    const clock = fakeClock();
    const bucket = new TokenBucket({ capacity: 2, refillPerSecond: 1, clock });
    expect(bucket.tryTake()).toBe(true);
    expect(bucket.tryTake()).toBe(true);
    expect(bucket.tryTake()).toBe(false);
  });

  it('a waiter can be aborted without blocking the ones behind it', async () => {
    const clock = fakeClock();
    const bucket = new TokenBucket({ capacity: 1, refillPerSecond: 1, clock, initialTokens: 0 });
    const abort = new AbortController();
    const first = bucket.take(1, abort.signal);
    let second = false;
    void bucket.take().then(() => (second = true));
    abort.abort(new Error('shutting down'));
    await expect(first).rejects.toThrow('shutting down');
    await clock.advance(1000);
    expect(second).toBe(true);
  });

  it('an aborted waiter leaves at once, even behind others', async () => {
    const clock = fakeClock();
    const bucket = new TokenBucket({ capacity: 1, refillPerSecond: 1, clock, initialTokens: 0 });
    void bucket.take();
    const abort = new AbortController();
    const second = bucket.take(1, abort.signal);
    abort.abort(new Error('gone'));
    await expect(second).rejects.toThrow('gone');
    expect(bucket.pending()).toBe(1);
    await clock.advance(2_000);
    expect(bucket.pending()).toBe(0);
  });

  it('refuses bad settings and requests larger than the capacity', () => {
    const clock = fakeClock();
    expect(() => new TokenBucket({ capacity: 0, refillPerSecond: 1, clock })).toThrow(
      TokenBucketError,
    );
    expect(() => new TokenBucket({ capacity: 1, refillPerSecond: 0, clock })).toThrow(
      /refillPerSecond/,
    );
    const bucket = new TokenBucket({ capacity: 2, refillPerSecond: 1, clock, name: 'jit' });
    expect(() => bucket.take(3)).toThrow(/jit: cannot take 3 tokens/);
  });

  it('works on a scaled clock', async () => {
    const clock = scaledClock(1000);
    const bucket = new TokenBucket({ capacity: 1, refillPerSecond: 1, clock, initialTokens: 0 });
    const start = clock.now();
    await bucket.take();
    await bucket.take();
    expect(clock.now() - start).toBeGreaterThanOrEqual(1900);
  });
});
