import { describe, expect, it } from 'vitest';
import type {
  GitHubProvider,
  GitHubRunner,
  GitHubScope,
} from '../../../controller/github/types.ts';
import {
  createRunnerListing,
  listingPeriodMs,
} from '../../../controller/reconcile/runner-listing.ts';
import type { Clock } from '../../../controller/util/clock.ts';

/** A clock moved by hand. */
function manualClock(start = 1_000_000): Clock & { advance(ms: number): void } {
  let now = start;
  return {
    now: () => now,
    sleep: () => Promise.resolve(),
    advance(ms) {
      now += ms;
    },
  };
}

/** A GitHub whose listings finish only when the test says so. */
function gatedGitHub() {
  const pending: { resolve: (r: GitHubRunner[]) => void; background: boolean }[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const github = {
    listRunners: (_scope: unknown, _prefix: unknown, options?: { background?: boolean }) =>
      new Promise<GitHubRunner[]>((resolve) => {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        pending.push({
          background: options?.background === true,
          resolve: (r) => {
            inFlight--;
            resolve(r);
          },
        });
      }),
  } as unknown as GitHubProvider;
  return {
    github,
    pending,
    get maxInFlight() {
      return maxInFlight;
    },
  };
}

const scope: GitHubScope = { kind: 'org', org: 'acme' } as unknown as GitHubScope;
const runner = (name: string) => ({ name }) as unknown as GitHubRunner;
const tick = () => new Promise((r) => setTimeout(r, 0));

describe('runner listing', () => {
  it('counts a listing age from its completion, not its start', async () => {
    const clock = manualClock();
    const gh = gatedGitHub();
    const listing = createRunnerListing(gh.github, clock, 'rc-', 5_000);
    const first = listing.list(scope);
    clock.advance(60_000); // a slow paginated listing
    gh.pending[0]!.resolve([runner('rc-a')]);
    const done = await first;
    expect(done.completedAtMs - done.startedAtMs).toBe(60_000);
    clock.advance(1_000);
    // Started 61 s ago but completed 1 s ago: still fresh, no second request.
    expect((await listing.list(scope)).runners.map((r) => r.name)).toEqual(['rc-a']);
    expect(gh.pending).toHaveLength(1);
    clock.advance(5_000);
    void listing.list(scope);
    await tick();
    expect(gh.pending).toHaveLength(2);
  });

  it('keeps one listing in flight per scope, across passes', async () => {
    const clock = manualClock();
    const gh = gatedGitHub();
    const listing = createRunnerListing(gh.github, clock, 'rc-', 5_000);
    const a = listing.list(scope);
    const b = listing.list(scope);
    listing.nextPass();
    const c = listing.list(scope);
    const d = listing.list(scope);
    await tick();
    expect(gh.pending).toHaveLength(1);
    gh.pending[0]!.resolve([runner('rc-old')]);
    expect(await a).toBe(await b);
    await tick();
    // The newer pass gets a listing started after the older one settled.
    expect(gh.pending).toHaveLength(2);
    clock.advance(10);
    gh.pending[1]!.resolve([runner('rc-new')]);
    const newer = await c;
    expect(await d).toBe(newer);
    expect(newer.runners.map((r) => r.name)).toEqual(['rc-new']);
    expect(newer.startedAtMs).toBeGreaterThanOrEqual((await a).completedAtMs);
    expect(gh.maxInFlight).toBe(1);
  });

  it('in the background mode answers from the last completed listing while the next is taken', async () => {
    const clock = manualClock();
    const gh = gatedGitHub();
    const listing = createRunnerListing(gh.github, clock, 'rc-', 5_000, { background: true });
    // Nothing completed yet: the first callers wait for the first listing.
    const first = listing.list(scope);
    await tick();
    gh.pending[0]!.resolve([runner('rc-a')]);
    const old = await first;
    expect(old.runners.map((r) => r.name)).toEqual(['rc-a']);

    listing.nextPass();
    clock.advance(1_000);
    // A new pass: the old listing answers at once, with its own times; one refresh is taken.
    const during = await listing.list(scope);
    expect(during).toBe(old);
    expect(await listing.list(scope)).toBe(old);
    await tick();
    expect(gh.pending).toHaveLength(2);
    // Only the refresh nobody waits for is paced as background work; the first was waited on.
    expect(gh.pending.map((p) => p.background)).toEqual([false, true]);
    gh.pending[1]!.resolve([runner('rc-a'), runner('rc-b')]);
    await tick();
    const fresh = await listing.list(scope);
    expect(fresh.runners.map((r) => r.name)).toEqual(['rc-a', 'rc-b']);
    expect(fresh.startedAtMs).toBeGreaterThan(old.startedAtMs);
    expect(gh.maxInFlight).toBe(1);
  });

  it('does not keep a failed listing', async () => {
    const clock = manualClock();
    let calls = 0;
    const github = {
      listRunners: () => (++calls === 1 ? Promise.reject(new Error('boom')) : Promise.resolve([])),
    } as unknown as GitHubProvider;
    const listing = createRunnerListing(github, clock, 'rc-', 5_000);
    await expect(listing.list(scope)).rejects.toThrow('boom');
    expect((await listing.list(scope)).runners).toEqual([]);
  });
});

describe('runner listing on a REST budget', () => {
  const budget = { restPerHour: 5_000, share: 0.4, minPeriodMs: 60_000 };

  it('the period lets all listings spend at most the share of the budget, and no less than the floor', () => {
    // 40 % of 5,000 an hour = 2,000 calls: 100 pages (10,000 runners) fit 20 listings = 3 min.
    expect(listingPeriodMs(100, budget)).toBe(180_000);
    expect(listingPeriodMs(200, budget)).toBe(360_000);
    // One page could go every 1.8 s; the floor holds it at one listing per minute.
    expect(listingPeriodMs(1, budget)).toBe(60_000);
    expect(listingPeriodMs(0, budget)).toBe(60_000);
    for (const pages of [1, 7, 33, 100, 250, 1_000]) {
      const perHour = (3_600_000 / listingPeriodMs(pages, budget)) * pages;
      expect(perHour).toBeLessThanOrEqual(5_000 * 0.4 + 1e-9);
    }
    expect(() => listingPeriodMs(1, { ...budget, share: 0 })).toThrow(/share/);
    expect(() => listingPeriodMs(1, { ...budget, restPerHour: 0 })).toThrow(/restPerHour/);
  });

  it('lists a scope again only once the period has passed since the last listing completed', async () => {
    const clock = manualClock();
    let calls = 0;
    const github = {
      listRunners: async (_s: GitHubScope, _p: string, info?: { pages?: number }) => {
        calls++;
        if (info) info.pages = 100;
        return [runner(`rc-${calls}`)];
      },
    } as unknown as GitHubProvider;
    const periods: number[] = [];
    const listing = createRunnerListing(github, clock, 'rc-', 5_000, {
      background: true,
      budget,
      onPeriod: (ms) => periods.push(ms),
    });
    // The first listing is waited for (the synced gate).
    expect((await listing.list(scope)).runners).toEqual([runner('rc-1')]);
    // New passes and many callers within the period: the last listing, no new call.
    for (let i = 0; i < 10; i++) {
      listing.nextPass();
      clock.advance(10_000);
      expect((await listing.list(scope)).runners).toEqual([runner('rc-1')]);
    }
    expect(calls).toBe(1);
    expect(listing.periodMs()).toBe(180_000);
    expect(periods).toContain(180_000);
    // Past 100 pages' period (3 min): one listing in the background, the caller gets the last one.
    clock.advance(80_000);
    expect((await listing.list(scope)).runners).toEqual([runner('rc-1')]);
    await tick();
    expect(calls).toBe(2);
    expect((await listing.list(scope)).runners).toEqual([runner('rc-2')]);
    expect(calls).toBe(2);
  });
});
