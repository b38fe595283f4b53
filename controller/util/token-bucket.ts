// Client-side pacing: a token bucket on the injected Clock. Callers `take()` before a call
// that an upstream limits (GitHub JIT POSTs, ECS RunTask), so a burst is spread out instead
// of running into secondary rate limits. `pauseUntil()` honours a retry-after answer.

import { FifoQueue } from './fifo-queue.ts';
import type { Clock } from './clock.ts';

export interface TokenBucketOptions {
  /** Largest burst; the bucket starts full unless `initialTokens` says otherwise. */
  capacity: number;
  /** Tokens added per second of clock time. */
  refillPerSecond: number;
  clock: Clock;
  initialTokens?: number;
  /** For error messages and logs. */
  name?: string;
}

export class TokenBucketError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'TokenBucketError';
  }
}

/**
 * Tokens refill continuously at `refillPerSecond` up to `capacity`. Waiters are served in
 * arrival order (a large request is not starved by small ones behind it).
 */
export class TokenBucket {
  readonly name: string;
  readonly capacity: number;
  readonly refillPerSecond: number;
  private readonly clock: Clock;
  private tokens: number;
  private lastRefillMs: number;
  private pausedUntilMs = 0;
  /** Tail of the FIFO of waiters; each waiter starts when the previous one got its tokens. */
  private readonly queue = new FifoQueue();
  /** Background waiters (takeSpare), in their own line behind every take(). */
  private readonly spareQueue = new FifoQueue();

  constructor(options: TokenBucketOptions) {
    const name = options.name ?? 'token bucket';
    if (!(options.capacity >= 1) || !Number.isFinite(options.capacity)) {
      throw new TokenBucketError(
        `${name}: capacity must be a number >= 1, got ${options.capacity}`,
      );
    }
    if (!(options.refillPerSecond > 0) || !Number.isFinite(options.refillPerSecond)) {
      throw new TokenBucketError(
        `${name}: refillPerSecond must be a number > 0, got ${options.refillPerSecond}`,
      );
    }
    this.name = name;
    this.capacity = options.capacity;
    this.refillPerSecond = options.refillPerSecond;
    this.clock = options.clock;
    this.tokens = Math.min(options.initialTokens ?? options.capacity, options.capacity);
    this.lastRefillMs = options.clock.now();
  }

  /** Tokens available right now (after refill), 0 while paused. */
  available(): number {
    this.refill();
    return this.clock.now() < this.pausedUntilMs ? 0 : this.tokens;
  }

  /** Callers currently waiting in `take()`. */
  pending(): number {
    return this.queue.waiting;
  }

  /** Epoch ms until which the bucket hands out nothing (0 when not paused). */
  pausedUntil(): number {
    return this.pausedUntilMs > this.clock.now() ? this.pausedUntilMs : 0;
  }

  /** Takes `n` tokens without waiting; false when they are not there (or someone waits). */
  tryTake(n = 1): boolean {
    this.check(n);
    if (this.queue.waiting > 0) return false;
    this.refill();
    if (this.clock.now() < this.pausedUntilMs || this.tokens < n) return false;
    this.tokens -= n;
    return true;
  }

  /** Resolves once `n` tokens were taken; rejects with the signal's reason when aborted. */
  take(n = 1, signal?: AbortSignal): Promise<void> {
    this.check(n);
    return this.queue.run(() => this.acquire(n, signal), signal);
  }

  /**
   * Background work (a listing nobody waits for): takes `n` tokens only from what is above
   * `reserve`, and only while no take() waits. So calls that an event or a launch waits on find
   * the reserve there and go at once, however much background work is queued.
   */
  takeSpare(n = 1, reserve = 0, signal?: AbortSignal): Promise<void> {
    this.check(n);
    const keep = Math.max(0, Math.min(reserve, this.capacity - n));
    return this.spareQueue.run(() => this.acquire(n, signal, keep, true), signal);
  }

  /** Gives back tokens for a call that turned out free (e.g. a 304 answer), up to capacity. */
  refund(n = 1): void {
    this.refill();
    this.tokens = Math.min(this.capacity, this.tokens + n);
  }

  /**
   * Hands out nothing before `epochMs` (a retry-after answer). A later pause never shortens an
   * earlier one. Tokens keep refilling meanwhile, but the bucket is emptied so that the first
   * calls after the pause are spread out again rather than sent as a burst.
   */
  pauseUntil(epochMs: number): void {
    if (epochMs <= this.pausedUntilMs) return;
    this.pausedUntilMs = epochMs;
    this.refill();
    this.tokens = 0;
    this.lastRefillMs = Math.max(this.lastRefillMs, epochMs);
  }

  private check(n: number): void {
    if (!(n > 0) || n > this.capacity) {
      throw new TokenBucketError(
        `${this.name}: cannot take ${n} tokens from a bucket of capacity ${this.capacity}`,
      );
    }
  }

  private refill(): void {
    const now = this.clock.now();
    if (now <= this.lastRefillMs) return;
    this.tokens = Math.min(
      this.capacity,
      this.tokens + ((now - this.lastRefillMs) / 1000) * this.refillPerSecond,
    );
    this.lastRefillMs = now;
  }

  /**
   * Waits until `n` tokens are there above `keep`, then takes them. `yieldToTakers`: background
   * work, which goes only while no take() waits (and then looks again after one token's time).
   */
  private async acquire(
    n: number,
    signal?: AbortSignal,
    keep = 0,
    yieldToTakers = false,
  ): Promise<void> {
    for (;;) {
      if (signal?.aborted) throw signal.reason;
      const now = this.clock.now();
      if (now < this.pausedUntilMs) {
        await this.clock.sleep(this.pausedUntilMs - now, signal);
        continue;
      }
      this.refill();
      const yielding = yieldToTakers && this.queue.waiting > 0;
      if (!yielding && this.tokens >= n + keep) {
        this.tokens -= n;
        return;
      }
      const short = yielding ? 1 : n + keep - this.tokens;
      const waitMs = Math.ceil((Math.max(short, 0.001) / this.refillPerSecond) * 1000);
      await this.clock.sleep(Math.max(1, waitMs), signal);
    }
  }
}
