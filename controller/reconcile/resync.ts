// The safety net for lost events: read every known repository's queued jobs from GitHub and
// record them (recordJob never moves a status backwards), and re-read the jobs the store still
// holds as queued or waiting that GitHub no longer lists as queued. A lost event is recovered
// within one resync period.
//
// Per repository: its open runs (listOpenRuns), then each open run's jobs. A run listing held in
// memory (the confirmer's, or an earlier resync's) stands in while it still shows the whole run
// (see listingOf), so a run costs its confirmation listing and is listed again only when a job
// of it completed, it was re-run, a job waits on approval or has stayed queued for two periods.
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

import type { OpenRun, WorkflowJob } from '../github/types.ts';
import type { JobRecord } from '../store/types.ts';
import { isoNow, type ReconcileContext } from './context.ts';
import { runKey } from './confirm.ts';
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
  /** The resync period: how old a held run listing may be and still stand in (default 60 s). */
  periodMs?: number;
}

/** A run listing the resync uses, and whether it was taken by this resync. */
interface UsedListing {
  jobs: Map<number, WorkflowJob> | undefined;
  fresh: boolean;
}

/** A held listing older than this many periods is not reused, whatever else holds. */
const MAX_REUSE_PERIODS = 10;
/** A run with a job stored as queued is listed again once its held listing is this old. */
const QUEUED_REUSE_PERIODS = 2;

export function createJobResync(
  ctx: ReconcileContext,
  onJobChanged: (job: JobRecord) => void | Promise<void>,
  options: ResyncOptions = {},
) {
  const discoveryIntervalMs = options.discoveryIntervalMs ?? 60_000;
  const periodMs = options.periodMs ?? 60_000;
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

  /** Lists a run now; through the confirmer's memory when there is one, so it is held. */
  async function listFresh(repository: string, runId: number): Promise<UsedListing> {
    if (ctx.confirmer) {
      const listing = await ctx.confirmer.listRun(repository, runId);
      return { jobs: listing.jobs, fresh: true };
    }
    const listed = await ctx.github.listRunJobs(repository, runId);
    return { jobs: listed && new Map(listed.jobs.map((j) => [j.id, j])), fresh: true };
  }

  /**
   * The listing of an open run this resync uses: the one held in memory (a confirmation or an
   * earlier resync took it) while it still shows the whole run, else a new one. Held is whole
   * when it is of the run's current attempt, no job of the run completed since it was taken
   * (no job that `needs` one can have appeared), no job of the run is stored as waiting (an
   * approval has no event of its own to rely on), no job stored as queued has waited two
   * periods on it, and it is younger than ten periods.
   */
  async function listingOf(
    repository: string,
    run: OpenRun,
    storedOfRun: JobRecord[],
  ): Promise<UsedListing> {
    const held = ctx.confirmer?.held(repository, run.id);
    if (held?.jobs && !held.outdated && held.attempt >= run.runAttempt) {
      const age = ctx.clock.now() - held.atMs;
      const waited = storedOfRun.some(
        (j) =>
          j.status === 'waiting' ||
          (j.status === 'queued' && age >= QUEUED_REUSE_PERIODS * periodMs),
      );
      if (!waited && age < MAX_REUSE_PERIODS * periodMs) return { jobs: held.jobs, fresh: false };
    }
    return listFresh(repository, run.id);
  }

  /**
   * Reads `jobs` back from GitHub: one listing of each run (latest attempt) answers for every
   * job of it; a job the listing does not show (an older attempt) is read alone. A listing this
   * resync used stands in when it shows the job (and, for `needFresh` jobs, was taken now).
   */
  async function readBack(
    jobs: JobRecord[],
    needFresh: Set<number>,
    used: Map<string, UsedListing>,
    record: (job: Omit<JobRecord, 'version' | 'updatedAt'>) => Promise<void>,
    failed: (repository: string, err: unknown) => void,
  ): Promise<void> {
    const byRun = new Map<string, JobRecord[]>();
    for (const job of jobs) {
      const key = runKey(job.repository, job.runId);
      byRun.set(key, [...(byRun.get(key) ?? []), job]);
    }
    for (const [key, group] of byRun) {
      const { repository, runId } = group[0]!;
      try {
        let listing = used.get(key);
        const stale = (l: UsedListing) =>
          !l.fresh && group.some((j) => needFresh.has(j.id) || !l.jobs?.has(j.id));
        if (!listing || stale(listing)) listing = await listFresh(repository, runId);
        for (const job of group) {
          const fresh = listing.jobs?.get(job.id) ?? (await ctx.github.getJob(repository, job.id));
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
    const used = new Map<string, UsedListing>();
    for (const repository of [...repositories].sort()) {
      try {
        const storedHere = stored.filter(
          (j) => j.repository.toLowerCase() === repository.toLowerCase(),
        );
        const storedByRun = new Map<number, JobRecord[]>();
        for (const j of storedHere)
          storedByRun.set(j.runId, [...(storedByRun.get(j.runId) ?? []), j]);
        const queued = new Map<number, WorkflowJob>();
        for (const run of await ctx.github.listOpenRuns(repository)) {
          const listing = await listingOf(repository, run, storedByRun.get(run.id) ?? []);
          used.set(runKey(repository, run.id), listing);
          for (const job of listing.jobs?.values() ?? []) {
            if (job.status === 'queued') queued.set(job.id, job);
          }
        }
        // REST jobs carry no repository object: its visibility comes from GET /repos (cached).
        const visibility = queued.size ? await visibilities.get(repository) : undefined;
        for (const job of queued.values()) {
          await record({
            ...jobRecordFrom(job, isoNow(ctx)),
            ...(visibility ? { visibility } : {}),
          });
        }
        gone.push(...storedHere.filter((j) => !queued.has(j.id)));
      } catch (err) {
        failed(repository, err);
      }
    }
    // Stored as queued, no longer listed as queued (started, ended or deleted), and in-progress
    // jobs whose completed event was lost (these need a listing taken now): read back, one
    // listing per run.
    const overdue = await overdueInProgress(record);
    report.settled = overdue.length;
    const seen = new Set(gone.map((j) => j.id));
    await readBack(
      [...gone, ...overdue.filter((j) => !seen.has(j.id))],
      new Set(overdue.map((j) => j.id)),
      used,
      record,
      failed,
    );
    return report;
  };
}
