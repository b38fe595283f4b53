// GitHub's rate limits: a primary hourly budget per identity (installation, App, personal token)
// reported in x-ratelimit-* headers on every answer, and a secondary limit in points per minute
// for JIT config generation. Both run on the injected clock.

import type { Clock } from '../../util/clock.ts';

export interface RateLimitOptions {
  /** Primary requests per hour per identity. Default 5,000 (GitHub's limit per installation). */
  primaryLimit: number;
  /** Secondary limit points per minute for generate-jitconfig. Default 900. */
  jitPointsPerMinute: number;
  /** Points one generate-jitconfig POST costs. Default 5. */
  jitPointsPerRequest: number;
  /** Status of a secondary-limit answer: GitHub uses 403 and sometimes 429. Default 403. */
  secondaryStatus: 403 | 429;
}

export const DEFAULT_RATE_LIMITS: RateLimitOptions = {
  primaryLimit: 5000,
  jitPointsPerMinute: 900,
  jitPointsPerRequest: 5,
  secondaryStatus: 403,
};

const HOUR_MS = 3600_000;
const MINUTE_MS = 60_000;

export interface PrimaryState {
  limit: number;
  remaining: number;
  used: number;
  resetSeconds: number;
}

interface Window {
  startMs: number;
  used: number;
}

export class RateLimiter {
  private readonly primary = new Map<string, Window>();
  private readonly secondary = new Map<string, { atMs: number; points: number }[]>();

  constructor(
    private readonly clock: Clock,
    public options: RateLimitOptions,
  ) {}

  /** Forgets what every identity spent: the next request starts a new window. */
  reset(): void {
    this.primary.clear();
    this.secondary.clear();
  }

  private window(identity: string): Window {
    const now = this.clock.now();
    let w = this.primary.get(identity);
    if (!w || now >= w.startMs + HOUR_MS) {
      w = { startMs: now, used: 0 };
      this.primary.set(identity, w);
    }
    return w;
  }

  /** Current state without spending. */
  peek(identity: string): PrimaryState {
    const w = this.window(identity);
    return {
      limit: this.options.primaryLimit,
      remaining: Math.max(0, this.options.primaryLimit - w.used),
      used: w.used,
      resetSeconds: Math.ceil((w.startMs + HOUR_MS) / 1000),
    };
  }

  /** True when the request may proceed (and counts it). */
  spend(identity: string): boolean {
    const w = this.window(identity);
    if (w.used >= this.options.primaryLimit) return false;
    w.used += 1;
    return true;
  }

  /** Returns back a request that turned out to be a 304 (conditional requests are free). */
  refund(identity: string): void {
    const w = this.window(identity);
    w.used = Math.max(0, w.used - 1);
  }

  /**
   * Spends JIT points in a sliding minute. Returns 0 when allowed, otherwise the seconds to wait
   * until enough points have left the window.
   */
  spendJit(identity: string): number {
    const now = this.clock.now();
    const entries = (this.secondary.get(identity) ?? []).filter((e) => e.atMs > now - MINUTE_MS);
    const used = entries.reduce((sum, e) => sum + e.points, 0);
    const cost = this.options.jitPointsPerRequest;
    if (used + cost > this.options.jitPointsPerMinute) {
      // Wait until the oldest entries free enough points.
      let freed = 0;
      let waitUntil = now;
      for (const e of entries) {
        freed += e.points;
        waitUntil = e.atMs + MINUTE_MS;
        if (used - freed + cost <= this.options.jitPointsPerMinute) break;
      }
      this.secondary.set(identity, entries);
      return Math.max(1, Math.ceil((waitUntil - now) / 1000));
    }
    entries.push({ atMs: now, points: cost });
    this.secondary.set(identity, entries);
    return 0;
  }
}
