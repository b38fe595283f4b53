// GitHub runners with our prefix, listed once per scope per pass and shared. Every pool of an
// organization (and garbage collection) needs the same listing; without sharing, a pass over N
// pools of one scope costs N paginated listings. A listing is reused while it belongs to the
// current pass (the work queue's periodic resync starts a new one) and while it is younger than
// `ttlMs` counted from its completion (a 100-page listing at the production REST budget takes
// over a minute: counting from its start would make it stale on arrival). At most one listing per
// scope is in flight: callers share it, and a caller of a newer pass waits for it and then starts
// the next one. A listing only ever gets replaced by a newer one, so no reconcile sees an older
// view of GitHub than one it already acted on.
//
// With a REST budget (the controller app's background listing), a scope is listed again only
// once `listingPeriodMs` has passed since the last listing completed: the period grows with the
// pages a listing costs so that all listings together spend at most `share` of the
// installation's budget (40 %: 10,000 runners = 100 pages = one listing every 3 minutes at
// 5,000 an hour), and never falls below `minPeriodMs`. What needs fresher news of one runner
// asks GitHub about that runner (lifecycle.ts), or learns it from workflow_job events.

import type {
  GitHubProvider,
  GitHubRunner,
  GitHubScope,
  ListRunnersOptions,
} from '../github/types.ts';
import type { Clock } from '../util/clock.ts';
import { scopeKey } from './names.ts';

/** One listing and when it was taken: a runner missing from it is gone only if it registered before `startedAtMs`. */
export interface ListedRunners {
  runners: GitHubRunner[];
  /** Clock time the listing's first page was requested. */
  startedAtMs: number;
  /** Clock time its last page arrived. */
  completedAtMs: number;
  /** Pages it read (absent: not known). */
  pages?: number;
}

/** How much of the REST budget the background listing may spend. */
export interface ListingBudget {
  /** The installation's REST budget per hour (pacing.restPerHour). */
  restPerHour: number;
  /** Share of it all background listings together may spend, 0 < share <= 1. */
  share: number;
  /** Least time between two listings of one scope. */
  minPeriodMs: number;
}

/** Default share of the REST budget for the background runner listing (docs/reconcile.md). */
export const DEFAULT_LISTING_BUDGET_SHARE = 0.4;

/**
 * Least time between two listings when one round of listings costs `pages` calls: pages x
 * listings per hour <= share x budget, and never less than `minPeriodMs`.
 */
export function listingPeriodMs(pages: number, budget: ListingBudget): number {
  if (!(budget.restPerHour > 0) || !(budget.share > 0 && budget.share <= 1)) {
    throw new RangeError(
      `listing budget: restPerHour must be > 0 and share in (0, 1], got ${budget.restPerHour} and ${budget.share}`,
    );
  }
  const perHour = budget.restPerHour * budget.share;
  return Math.max(budget.minPeriodMs, Math.ceil((Math.max(1, pages) * 3_600_000) / perHour));
}

interface Entry {
  pass: number;
  /** Set once the listing completed. */
  completedAtMs?: number;
  listing: Promise<ListedRunners>;
}

export interface RunnerListing {
  /** Our runners in `scope` (names starting with `namePrefix`), with the listing's times. */
  list(scope: GitHubScope): Promise<ListedRunners>;
  /** Starts a new pass: the next call per scope lists again (without a budget). */
  nextPass(): void;
  /** With a budget: the current least time between two listings of a scope. */
  periodMs(): number | undefined;
}

export interface RunnerListingOptions {
  /**
   * Answer from the last completed listing while a newer one is taken (the informer cache's
   * view of GitHub): a pass never waits for a paginated listing paced by the REST budget. The
   * answer carries its own times, so a runner that registered after it started is not taken for
   * deregistered. Without a completed listing yet, callers wait for the first.
   */
  background?: boolean;
  /** With `background`: list a scope again only once the budget's period has passed. */
  budget?: ListingBudget;
  /** Told whenever the period changes (for the log). */
  onPeriod?: (periodMs: number, pages: number) => void;
}

export function createRunnerListing(
  github: GitHubProvider,
  clock: Clock,
  namePrefix: string,
  ttlMs: number,
  options: RunnerListingOptions = {},
): RunnerListing {
  let pass = 0;
  const entries = new Map<string, Entry>();
  /** The newest completed listing per scope. */
  const latest = new Map<string, ListedRunners>();

  const fetchFresh = async (scope: GitHubScope): Promise<ListedRunners> => {
    const startedAtMs = clock.now();
    // Callers are answered from the last completed listing meanwhile: nobody waits for this
    // one, so it must not take the REST budget from calls someone does wait on.
    const background = !!options.background && latest.has(scopeKey(scope));
    const info: ListRunnersOptions = background ? { background } : {};
    const runners = await github.listRunners(scope, namePrefix, info);
    return {
      runners,
      startedAtMs,
      completedAtMs: clock.now(),
      ...(info.pages !== undefined ? { pages: info.pages } : {}),
    };
  };

  const budget = options.background ? options.budget : undefined;
  let lastPeriod: number | undefined;
  /** The period for the pages the last listing of every scope cost together. */
  const period = (): number => {
    let pages = 0;
    for (const l of latest.values()) pages += l.pages ?? Math.ceil((l.runners.length + 1) / 100);
    const ms = listingPeriodMs(pages, budget!);
    if (ms !== lastPeriod) {
      lastPeriod = ms;
      options.onPeriod?.(ms, pages);
    }
    return ms;
  };

  /** Starts a listing of `key` (after the one in flight, if any) and records it when done. */
  const start = (key: string, scope: GitHubScope, previous?: Promise<ListedRunners>): Entry => {
    const entry: Entry = {
      pass,
      listing: previous
        ? previous.then(noop, noop).then(() => fetchFresh(scope))
        : fetchFresh(scope),
    };
    entries.set(key, entry);
    entry.listing.then(
      (done) => {
        entry.completedAtMs = done.completedAtMs;
        const newest = latest.get(key);
        if (!newest || newest.startedAtMs <= done.startedAtMs) latest.set(key, done);
      },
      () => {
        // A failed listing is not cached: the next caller asks again.
        if (entries.get(key) === entry) entries.delete(key);
      },
    );
    return entry;
  };

  const listOnBudget = (key: string, scope: GitHubScope): Promise<ListedRunners> => {
    const cached = entries.get(key);
    const last = latest.get(key);
    const inFlight = cached && cached.completedAtMs === undefined;
    if (!last) return inFlight ? cached.listing : start(key, scope).listing;
    if (!inFlight && clock.now() - last.completedAtMs >= period()) start(key, scope);
    return Promise.resolve(last);
  };

  return {
    periodMs: () => (budget ? period() : undefined),
    list(scope) {
      const key = scopeKey(scope);
      if (budget) return listOnBudget(key, scope);
      const cached = entries.get(key);
      const last = latest.get(key);
      if (cached && cached.pass === pass) {
        // In flight, or completed less than ttlMs ago: share it.
        if (cached.completedAtMs === undefined || clock.now() - cached.completedAtMs < ttlMs) {
          if (options.background && last && cached.completedAtMs === undefined) {
            return Promise.resolve(last);
          }
          return cached.listing;
        }
      }
      // One listing in flight per scope: a newer pass waits for the older request to settle.
      const previous = cached && cached.completedAtMs === undefined ? cached.listing : undefined;
      const entry = start(key, scope, previous);
      if (options.background && last) return Promise.resolve(last);
      return entry.listing;
    },
    nextPass() {
      pass++;
    },
  };
}

function noop(): void {}
