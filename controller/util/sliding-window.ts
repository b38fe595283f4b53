// Client-side pacing by a sliding window on the injected Clock: a log of the last `limit`
// grant times. A call may go when fewer than `limit` grants lie in the trailing window;
// otherwise it waits until the oldest one leaves. Unlike a token bucket whose burst plus a
// minute's refill must add up to the limit, this allows the full rate for as long as the
// demand lasts, and still no window of `windowMs` (sliding or fixed) ever holds more than
// `limit` grants. Used for GitHub's JIT POSTs (a secondary limit counted in a sliding minute).
//
// A grant taken with `acquire()` counts as "now" until its holder calls `done()`; only then is
// its time written to the log. The upstream counts a request when it arrives, which is between
// the grant and the answer, so stamping the answer time keeps the guarantee for what the
// upstream sees however long requests travel (or wait for a socket) on the way.

import { FifoQueue } from './fifo-queue.ts';
import type { Clock } from './clock.ts';

/** Most entries a pause writes to the log (see `pauseUntil`). */
const MAX_SPREAD = 10_000;

export interface SlidingWindowOptions {
  /** Grants allowed in any window of `windowMs`. */
  limit: number;
  /** Length of the window in clock milliseconds; default one minute. */
  windowMs?: number;
  clock: Clock;
  /** For error messages and logs. */
  name?: string;
}

export class SlidingWindowError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'SlidingWindowError';
  }
}

/** One grant from `acquire()`: counts against the window until `done()`, then from that time. */
export interface WindowGrant {
  /** The call was sent and answered (or failed); idempotent. */
  done(): void;
}

export class SlidingWindow {
  readonly name: string;
  readonly limit: number;
  readonly windowMs: number;
  private readonly clock: Clock;
  /** Times of finished grants, oldest first; only those inside the window matter. */
  private log: number[] = [];
  /** Grants handed out by `acquire()` whose `done()` has not come yet. */
  private inFlight = 0;
  private pausedUntilMs = 0;
  /** Tail of the FIFO of waiters; each waiter starts when the previous one got its grant. */
  private readonly queue = new FifoQueue();
  /** Wakes the head waiter when an in-flight grant finishes (it may then wait less). */
  private wake: (() => void) | undefined;

  constructor(options: SlidingWindowOptions) {
    const name = options.name ?? 'sliding window';
    if (!Number.isInteger(options.limit) || options.limit < 1) {
      throw new SlidingWindowError(`${name}: limit must be an integer >= 1, got ${options.limit}`);
    }
    const windowMs = options.windowMs ?? 60_000;
    if (!(windowMs > 0) || !Number.isFinite(windowMs)) {
      throw new SlidingWindowError(`${name}: windowMs must be a number > 0, got ${windowMs}`);
    }
    this.name = name;
    this.limit = options.limit;
    this.windowMs = windowMs;
    this.clock = options.clock;
  }

  /** Grants that could go right now, 0 while paused. */
  available(): number {
    if (this.clock.now() < this.pausedUntilMs) return 0;
    return Math.max(0, this.limit - this.used());
  }

  /** Callers currently waiting in `take()` / `acquire()`. */
  pending(): number {
    return this.queue.waiting;
  }

  /** Epoch ms until which nothing is handed out (0 when not paused). */
  pausedUntil(): number {
    return this.pausedUntilMs > this.clock.now() ? this.pausedUntilMs : 0;
  }

  /** Takes `n` grants (stamped now) without waiting; false when the window is full or someone waits. */
  tryTake(n = 1): boolean {
    this.check(n);
    if (this.queue.waiting > 0 || this.clock.now() < this.pausedUntilMs) return false;
    if (this.used() + n > this.limit) return false;
    this.stamp(n);
    return true;
  }

  /** Resolves once `n` grants were taken, stamped at the time they were given. */
  take(n = 1, signal?: AbortSignal): Promise<void> {
    this.check(n);
    return this.enqueue(n, signal, false);
  }

  /**
   * Resolves with one grant that counts as current until `done()`, which stamps it with the
   * time the call finished. Rejects with the signal's reason when aborted.
   */
  async acquire(signal?: AbortSignal): Promise<WindowGrant> {
    await this.enqueue(1, signal, true);
    let finished = false;
    return {
      done: () => {
        if (finished) return;
        finished = true;
        this.inFlight -= 1;
        this.stamp(1);
        this.wake?.();
      },
    };
  }

  /** Gives back the `n` newest grants for calls that turned out free (e.g. a 304 answer). */
  refund(n = 1): void {
    this.prune();
    this.log.splice(Math.max(0, this.log.length - n), n);
    this.wake?.();
  }

  /**
   * Hands out nothing before `epochMs` (a retry-after answer). A later pause never shortens an
   * earlier one. The window is then treated as full at the end of the pause, its grants spread
   * evenly over the window before it, so that the calls after the pause go at the steady rate
   * (one every `windowMs / limit`) rather than as a burst.
   */
  pauseUntil(epochMs: number): void {
    if (epochMs <= this.pausedUntilMs) return;
    this.pausedUntilMs = epochMs;
    // At most MAX_SPREAD entries: a limit beyond it (1e9 = "no pacing") fills only that many.
    const count = Math.min(this.limit, MAX_SPREAD);
    const step = this.windowMs / this.limit;
    const start = epochMs - count * step;
    const spread = Array.from({ length: count }, (_, i) => start + (i + 1) * step);
    // Real grants later than the spread ones still count (a call answered during the pause).
    this.log = [...spread, ...this.log.filter((t) => t > epochMs)];
  }

  private check(n: number): void {
    if (!Number.isInteger(n) || n < 1 || n > this.limit) {
      throw new SlidingWindowError(
        `${this.name}: cannot take ${n} grants from a window of limit ${this.limit}`,
      );
    }
  }

  /** Drops log entries that left the window (a grant at t counts while now < t + windowMs). */
  private prune(): void {
    const cutoff = this.clock.now() - this.windowMs;
    let drop = 0;
    while (drop < this.log.length && this.log[drop]! <= cutoff) drop += 1;
    if (drop > 0) this.log.splice(0, drop);
  }

  private used(): number {
    this.prune();
    return this.inFlight + this.log.length;
  }

  private stamp(n: number): void {
    const now = this.clock.now();
    // The log stays sorted: a pause can put entries up to its end, after now.
    let at = this.log.length;
    while (at > 0 && this.log[at - 1]! > now) at -= 1;
    this.log.splice(at, 0, ...Array.from({ length: n }, () => now));
  }

  private enqueue(n: number, signal: AbortSignal | undefined, hold: boolean): Promise<void> {
    return this.queue.run(() => this.wait(n, signal, hold), signal);
  }

  private async wait(n: number, signal: AbortSignal | undefined, hold: boolean): Promise<void> {
    for (;;) {
      if (signal?.aborted) throw signal.reason;
      const now = this.clock.now();
      if (now < this.pausedUntilMs) {
        await this.clock.sleep(this.pausedUntilMs - now, signal);
        continue;
      }
      const used = this.used();
      if (used + n <= this.limit) {
        if (hold) this.inFlight += n;
        else this.stamp(n);
        return;
      }
      // The (used + n - limit)-th oldest logged grant must leave; in-flight ones first have to
      // finish, so without enough logged grants wait for a done() (or a long sleep).
      const mustLeave = used + n - this.limit;
      const until = mustLeave <= this.log.length ? this.log[mustLeave - 1]! + this.windowMs : 0;
      const sleepMs = until > 0 ? Math.max(1, until - now) : this.windowMs;
      await this.sleepOrWake(sleepMs, signal);
    }
  }

  /** Sleeps on the clock, but returns early when an in-flight grant finishes. */
  private async sleepOrWake(ms: number, signal: AbortSignal | undefined): Promise<void> {
    const stop = new AbortController();
    const onAbort = () => stop.abort(signal?.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    const woken = new Promise<void>((resolve) => {
      this.wake = resolve;
    });
    const sleeping = this.clock.sleep(ms, stop.signal);
    // Rejects when cancelled below after a wake-up; nobody waits for it then.
    sleeping.catch(() => undefined);
    try {
      await Promise.race([sleeping, woken]);
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      throw err;
    } finally {
      this.wake = undefined;
      signal?.removeEventListener('abort', onAbort);
      // Cancels the clock sleep when woken (no timer left behind); its rejection is ignored.
      if (!stop.signal.aborted) stop.abort(new Error('woken'));
    }
  }
}
