// The safety net for lost events: read every known repository's queued jobs from GitHub and
// record them (recordJob never moves a status backwards), and re-read the jobs the store still
// holds as queued or waiting that GitHub no longer lists as queued. A lost event is recovered
// within one resync period.
//
// Known repositories: those seen in an event (the store's repository items), those of stored
// queued jobs, those repo-scoped pools name, and those the App's installation on each org-scoped
// pool's organization can access (discovery: GET /installation/repositories, conditional, at
// most once per resync period per organization). Newly discovered ones are recorded in the store
// like event-seen ones. So a repository whose every event was lost, or a controller newly
// installed, still has its queued jobs found. Enterprise-scoped pools are not discovered: their
// repositories are known from events only.

import type { JobRecord } from '../store/types.ts';
import { isoNow, type ReconcileContext } from './context.ts';
import { jobRecordFrom } from './jobs.ts';
import { RepositoryVisibilities } from './visibility.ts';

export interface ResyncReport {
  repositories: number;
  recorded: number;
  changed: number;
  failedRepositories: string[];
  /** Organizations whose installation listing was read this resync (not skipped as recent). */
  listedOwners: string[];
  /** Repositories recorded in the store for the first time by discovery. */
  discovered: string[];
  /** Organizations whose installation listing failed (not installed, rate limit, ...). */
  failedOwners: string[];
}

export interface ResyncOptions {
  /** Least time between two installation listings of one organization. Default 60 s. */
  discoveryIntervalMs?: number;
}

export function createJobResync(
  ctx: ReconcileContext,
  onJobChanged: (job: JobRecord) => void | Promise<void>,
  options: ResyncOptions = {},
) {
  const discoveryIntervalMs = options.discoveryIntervalMs ?? 60_000;
  const visibilities =
    ctx.visibilities ?? new RepositoryVisibilities({ github: ctx.github, clock: ctx.clock });
  /** Per organization (lower case): when it was last listed and what the listing said. */
  const listings = new Map<string, { atMs: number; repositories: string[] }>();

  /** Repositories the installations of org-scoped pools can access, and those pools name. */
  async function discover(
    known: Set<string>,
    report: Pick<ResyncReport, 'listedOwners' | 'discovered' | 'failedOwners'>,
  ): Promise<string[]> {
    const owners = new Map<string, string>();
    const named: string[] = [];
    for (const pool of await ctx.store.listPools()) {
      const github = pool.spec.github;
      if (github.scope === 'org')
        owners.set(github.organization.toLowerCase(), github.organization);
      else if (github.scope === 'repo') named.push(github.repository);
    }
    const found = [...named];
    for (const [key, owner] of [...owners].sort()) {
      const last = listings.get(key);
      // A pass that ran a little late must not push the next listing back a whole period.
      if (last && ctx.clock.now() - last.atMs < discoveryIntervalMs * 0.9) {
        found.push(...last.repositories);
        continue;
      }
      try {
        const { repositories, notModified } = await ctx.github.listInstallationRepositories(owner);
        listings.set(key, { atMs: ctx.clock.now(), repositories });
        report.listedOwners.push(owner);
        found.push(...repositories);
        // Unchanged since the last listing: those repositories are in the store already.
        if (notModified && last) continue;
        for (const repository of repositories) {
          if (known.has(repository.toLowerCase())) continue;
          await ctx.store.touchRepository(repository, isoNow(ctx));
          report.discovered.push(repository);
        }
      } catch (err) {
        // Not listed again before the interval either: a missing installation stays missing.
        listings.set(key, { atMs: ctx.clock.now(), repositories: last?.repositories ?? [] });
        found.push(...(last?.repositories ?? []));
        report.failedOwners.push(owner);
        ctx.log.warn({ owner, err }, 'listing the repositories of the installation failed');
      }
    }
    return found;
  }

  return async function resyncJobs(): Promise<ResyncReport> {
    const stored = await ctx.store.listJobs({ status: ['queued', 'waiting'] });
    const remembered = (await ctx.store.listRepositories()).map((r) => r.fullName);
    const discovery: Pick<ResyncReport, 'listedOwners' | 'discovered' | 'failedOwners'> = {
      listedOwners: [],
      discovered: [],
      failedOwners: [],
    };
    const found = await discover(new Set(remembered.map((r) => r.toLowerCase())), discovery);
    // One entry per repository, whatever the case of its name in each source.
    const byKey = new Map<string, string>();
    // A job only an unsigned event named does not make its repository known (a forger could
    // make every resync spend calls on repositories of their choosing).
    const vouched = stored.filter((j) => j.confirmation !== 'pending').map((j) => j.repository);
    for (const name of [...remembered, ...vouched, ...found]) {
      if (!byKey.has(name.toLowerCase())) byKey.set(name.toLowerCase(), name);
    }
    const repositories = new Set(byKey.values());
    const report: ResyncReport = {
      repositories: repositories.size,
      recorded: 0,
      changed: 0,
      failedRepositories: [],
      ...discovery,
    };
    const record = async (job: Omit<JobRecord, 'version' | 'updatedAt'>) => {
      const { changed, record } = await ctx.store.recordJob(job);
      report.recorded++;
      if (changed) {
        report.changed++;
        await onJobChanged(record);
      }
    };

    for (const repository of [...repositories].sort()) {
      try {
        const queued = await ctx.github.listQueuedJobs(repository);
        const ids = new Set(queued.map((j) => j.id));
        // REST jobs carry no repository object: its visibility comes from GET /repos (cached).
        const visibility = queued.length ? await visibilities.get(repository) : undefined;
        for (const job of queued) {
          await record({
            ...jobRecordFrom(job, isoNow(ctx)),
            ...(visibility ? { visibility } : {}),
          });
        }
        const gone = stored.filter(
          (j) => j.repository.toLowerCase() === repository.toLowerCase() && !ids.has(j.id),
        );
        for (const job of gone) {
          const fresh = await ctx.github.getJob(repository, job.id);
          if (fresh) {
            await record({ ...jobRecordFrom(fresh, isoNow(ctx)), owner: job.owner });
          } else {
            // GitHub no longer knows the job (deleted run): it is nobody's demand any more.
            const { version: _v, updatedAt: _u, ...rest } = job;
            await record({ ...rest, status: 'completed', conclusion: 'not_found' });
          }
        }
      } catch (err) {
        // One repository (removed App access, rate limit) must not stop the others.
        report.failedRepositories.push(repository);
        ctx.log.warn({ repository, err }, 'job resync failed for repository');
      }
    }
    return report;
  };
}
