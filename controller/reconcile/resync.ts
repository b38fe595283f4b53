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
//
// Jobs still in_progress although their runner finished `completedEventGraceMs` ago (the
// completed event was lost) are read back too: one listing of each such job's run answers for
// every job of it (docs/reconcile.md "GitHub calls").

import type { WorkflowJob } from '../github/types.ts';
import type { JobRecord } from '../store/types.ts';
import { isoNow, type ReconcileContext } from './context.ts';
import { jobRecordFrom } from './jobs.ts';
import { ownedPrefix } from './names.ts';
import { RAN_A_JOB, lastEventAt } from './runner/record.ts';
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
  /** In-progress jobs of runners finished longer than the grace ago, read back from GitHub. */
  settled: number;
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

  /**
   * In-progress jobs of ours whose runner finished at least `completedEventGraceMs` ago (or whose
   * runner record is gone): the completed event was lost. Only jobs whose runner record exists
   * and is finished, or whose record expired, qualify; a live runner's job is its own business.
   */
  async function overdueInProgress(
    record: (job: Omit<JobRecord, 'version' | 'updatedAt'>) => Promise<void>,
  ): Promise<JobRecord[]> {
    const now = ctx.clock.now();
    const grace = ctx.settings.completedEventGraceMs;
    const prefix = ownedPrefix(ctx.settings.runnerNamePrefix);
    const inProgress = ctx.cache
      ? ctx.cache.records.jobs(['in_progress'])
      : await ctx.store.listJobs({ status: ['in_progress'] });
    const overdue: JobRecord[] = [];
    for (const job of inProgress) {
      if (!job.runnerName?.startsWith(prefix)) continue;
      const claimed = job.claimedCompletion !== undefined;
      if (!claimed && now - Date.parse(job.updatedAt) < grace) continue;
      const cached = ctx.cache?.records.runner(job.runnerName);
      if (cached && cached.state !== 'finished') continue;
      const runner = cached ?? (await ctx.store.getRunner(job.runnerName));
      if (runner && runner.state !== 'finished') continue;
      const ended = runner?.timeline.findLast((t) => t.event === 'finished')?.detail ?? '';
      if (claimed && runner && RAN_A_JOB.includes(ended)) {
        // The claim came after its runner ran the job and exited: that corroborates it.
        const { version: _v, updatedAt: _u, claimedCompletion: claim, ...rest } = job;
        await record({
          ...rest,
          status: 'completed',
          ...(claim!.conclusion ? { conclusion: claim!.conclusion } : {}),
          ...(claim!.completedAt ? { completedAt: claim!.completedAt } : {}),
          confirmation: 'confirmed',
        });
        continue;
      }
      if (now - Date.parse(job.updatedAt) < grace) continue;
      const finishedAt = runner ? lastEventAt(runner, 'finished') : undefined;
      if (finishedAt !== undefined && now - finishedAt < grace) continue;
      overdue.push(job);
    }
    return overdue;
  }

  /**
   * Reads `jobs` back from GitHub: one listing of each run (latest attempt) answers for every
   * job of it; a job the listing does not show (an older attempt) is read alone.
   */
  async function readBack(
    jobs: JobRecord[],
    record: (job: Omit<JobRecord, 'version' | 'updatedAt'>) => Promise<void>,
    failed: (repository: string, err: unknown) => void,
  ): Promise<void> {
    const byRun = new Map<string, JobRecord[]>();
    for (const job of jobs) {
      const key = `${job.repository.toLowerCase()}#${job.runId}`;
      byRun.set(key, [...(byRun.get(key) ?? []), job]);
    }
    for (const group of byRun.values()) {
      const { repository, runId } = group[0]!;
      try {
        const listed = await ctx.github.listRunJobs(repository, runId);
        const byId = new Map<number, WorkflowJob>((listed?.jobs ?? []).map((j) => [j.id, j]));
        for (const job of group) {
          const fresh = byId.get(job.id) ?? (await ctx.github.getJob(repository, job.id));
          if (fresh) {
            await record({
              ...jobRecordFrom(fresh, isoNow(ctx)),
              owner: job.owner,
              ...(job.pool ? { pool: job.pool } : {}),
            });
          } else {
            // GitHub no longer knows the job (deleted run): it is nobody's demand any more.
            const { version: _v, updatedAt: _u, ...rest } = job;
            await record({ ...rest, status: 'completed', conclusion: 'not_found' });
          }
        }
      } catch (err) {
        failed(repository, err);
      }
    }
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
      settled: 0,
    };
    const record = async (job: Omit<JobRecord, 'version' | 'updatedAt'>) => {
      const { changed, record } = await ctx.store.recordJob(job);
      report.recorded++;
      if (changed) {
        report.changed++;
        await onJobChanged(record);
      }
    };

    const failed = (repository: string, err: unknown) => {
      // One repository (removed App access, rate limit) must not stop the others.
      if (!report.failedRepositories.includes(repository)) {
        report.failedRepositories.push(repository);
      }
      ctx.log.warn({ repository, err }, 'job resync failed for repository');
    };
    const gone: JobRecord[] = [];
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
        gone.push(
          ...stored.filter(
            (j) => j.repository.toLowerCase() === repository.toLowerCase() && !ids.has(j.id),
          ),
        );
      } catch (err) {
        failed(repository, err);
      }
    }
    // Stored as queued, no longer listed as queued (started, ended or deleted), and in-progress
    // jobs whose completed event was lost: read back, one listing per run.
    const overdue = await overdueInProgress(record);
    report.settled = overdue.length;
    const seen = new Set(gone.map((j) => j.id));
    await readBack([...gone, ...overdue.filter((j) => !seen.has(j.id))], record, failed);
    return report;
  };
}
