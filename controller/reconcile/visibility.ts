// Repository visibility from GitHub's REST API (GET /repos/{owner}/{repo}), for jobs found by the
// resync or confirmed from an unsigned event: neither carries a trustworthy `repository` object.
// Kept per repository for `ttlMs` (a repository rarely changes visibility; a change is seen
// within that time), at most `maxRepositories` (LRU); one call per repository at a time, paced
// by the provider like every REST call. A failed look-up answers what was known, else nothing.

import type { GitHubProvider } from '../github/types.ts';
import type { RepositoryVisibility } from '../store/types.ts';
import type { Clock } from '../util/clock.ts';

export interface RepositoryVisibilitiesOptions {
  github: Pick<GitHubProvider, 'getRepositoryVisibility'>;
  clock: Clock;
  /** Default 10 minutes. */
  ttlMs?: number;
  /** Default 5,000. */
  maxRepositories?: number;
}

interface Entry {
  visibility: RepositoryVisibility | undefined;
  atMs: number;
}

export const DEFAULT_VISIBILITY_TTL_MS = 10 * 60_000;

export class RepositoryVisibilities {
  readonly #entries = new Map<string, Entry>();
  readonly #inFlight = new Map<string, Promise<RepositoryVisibility | undefined>>();
  readonly #ttlMs: number;
  readonly #max: number;

  constructor(private readonly options: RepositoryVisibilitiesOptions) {
    this.#ttlMs = options.ttlMs ?? DEFAULT_VISIBILITY_TTL_MS;
    this.#max = Math.max(1, options.maxRepositories ?? 5_000);
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The visibility GitHub gives, or undefined while it is not known. Never throws. */
  async get(repository: string): Promise<RepositoryVisibility | undefined> {
    const key = repository.toLowerCase();
    const entry = this.#entries.get(key);
    if (entry && this.options.clock.now() - entry.atMs < this.#ttlMs) return entry.visibility;
    let pending = this.#inFlight.get(key);
    if (!pending) {
      pending = this.#look(key, repository, entry).finally(() => this.#inFlight.delete(key));
      this.#inFlight.set(key, pending);
    }
    return pending;
  }

  async #look(
    key: string,
    repository: string,
    stale: Entry | undefined,
  ): Promise<RepositoryVisibility | undefined> {
    try {
      const visibility = await this.options.github.getRepositoryVisibility(repository);
      this.#entries.delete(key);
      this.#entries.set(key, { visibility, atMs: this.options.clock.now() });
      while (this.#entries.size > this.#max) {
        this.#entries.delete(this.#entries.keys().next().value!);
      }
      return visibility;
    } catch {
      return stale?.visibility;
    }
  }
}
