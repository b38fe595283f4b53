// GitHub runners with our prefix, listed once per scope per pass and shared. Every pool of an
// organization (and garbage collection) needs the same listing; without sharing, a pass over N
// pools of one scope costs N paginated listings. A listing is reused while it belongs to the
// current pass (the work queue's periodic resync starts a new one) and while it is younger than
// `ttlMs` counted from its completion (a 100-page listing at the production REST budget takes
// over a minute: counting from its start would make it stale on arrival). At most one listing per
// scope is in flight: callers share it, and a caller of a newer pass waits for it and then starts
// the next one. A listing only ever gets replaced by a newer one, so no reconcile sees an older
// view of GitHub than one it already acted on.

import type { GitHubProvider, GitHubRunner, GitHubScope } from '../github/types.ts';
import type { Clock } from '../util/clock.ts';
import { scopeKey } from './names.ts';

/** One listing and when it was taken: a runner missing from it is gone only if it registered before `startedAtMs`. */
export interface ListedRunners {
  runners: GitHubRunner[];
  /** Clock time the listing's first page was requested. */
  startedAtMs: number;
  /** Clock time its last page arrived. */
  completedAtMs: number;
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
  /** Starts a new pass: the next call per scope lists again. */
  nextPass(): void;
}

export interface RunnerListingOptions {
  /**
   * Answer from the last completed listing while a newer one is taken (the informer cache's
   * view of GitHub): a pass never waits for a paginated listing paced by the REST budget. The
   * answer carries its own times, so a runner that registered after it started is not taken for
   * deregistered. Without a completed listing yet, callers wait for the first.
   */
  background?: boolean;
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
    const runners = await github.listRunners(scope, namePrefix, background ? { background } : {});
    return { runners, startedAtMs, completedAtMs: clock.now() };
  };

  return {
    list(scope) {
      const key = scopeKey(scope);
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
      if (options.background && last) return Promise.resolve(last);
      return entry.listing;
    },
    nextPass() {
      pass++;
    },
  };
}

function noop(): void {}
