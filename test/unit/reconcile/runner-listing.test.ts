import { describe, expect, it } from 'vitest';
import type {
  GitHubProvider,
  GitHubRunner,
  GitHubScope,
} from '../../../controller/github/types.ts';
import { createRunnerListing } from '../../../controller/reconcile/runner-listing.ts';
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
