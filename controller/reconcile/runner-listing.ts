// GitHub runners with our prefix, listed once per scope per pass and shared. Every pool of an
// organization (and garbage collection) needs the same listing; without sharing, a pass over N
// pools of one scope costs N paginated listings. A listing is reused while it belongs to the
// current pass (the work queue's periodic resync starts a new one) and is younger than `ttlMs`;
// concurrent callers share one request in flight. A listing only ever gets replaced by a newer
// one, so no reconcile sees an older view of GitHub than one it already acted on.

import type { GitHubProvider, GitHubRunner, GitHubScope } from '../github/types.ts';
import type { Clock } from '../util/clock.ts';
import { scopeKey } from './names.ts';

interface Entry {
  pass: number;
  fetchedAtMs: number;
  runners: Promise<GitHubRunner[]>;
}

export interface RunnerListing {
  /** Our runners in `scope` (names starting with `namePrefix`). */
  list(scope: GitHubScope): Promise<GitHubRunner[]>;
  /** Starts a new pass: the next call per scope lists again. */
  nextPass(): void;
}

export function createRunnerListing(
  github: GitHubProvider,
  clock: Clock,
  namePrefix: string,
  ttlMs: number,
): RunnerListing {
  let pass = 0;
  const entries = new Map<string, Entry>();
  return {
    list(scope) {
      const key = scopeKey(scope);
      const now = clock.now();
      const cached = entries.get(key);
      if (cached && cached.pass === pass && now - cached.fetchedAtMs < ttlMs) {
        return cached.runners;
      }
      const entry: Entry = {
        pass,
        fetchedAtMs: now,
        runners: github.listRunners(scope, namePrefix),
      };
      entries.set(key, entry);
      // A failed listing is not cached: the next caller asks again.
      entry.runners.catch(() => {
        if (entries.get(key) === entry) entries.delete(key);
      });
      return entry.runners;
    },
    nextPass() {
      pass++;
    },
  };
}
