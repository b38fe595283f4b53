// A token bucket on the injected clock, like the ones ECS meters RunTask and Fargate launches with.

import type { Clock } from '../../util/clock.ts';

export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly clock: Clock,
    readonly burst: number,
    readonly perSecond: number,
  ) {
    this.tokens = burst;
    this.last = clock.now();
  }

  /** Takes `n` tokens if they are all there; otherwise takes none. */
  take(n = 1): boolean {
    const now = this.clock.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.perSecond);
    this.last = now;
    if (this.tokens + 1e-9 < n) return false;
    this.tokens -= n;
    return true;
  }
}
