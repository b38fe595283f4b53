// The safety net for lost events: read every known repository's queued jobs from GitHub and
// record them (recordJob never moves a status backwards), and re-read the jobs the store still
// holds as queued or waiting that GitHub no longer lists as queued. A lost event is recovered
// within one resync period.

import type { JobRecord } from '../store/types.ts';
import { isoNow, type ReconcileContext } from './context.ts';
import { jobRecordFrom } from './jobs.ts';

export interface ResyncReport {
  repositories: number;
  recorded: number;
  changed: number;
  failedRepositories: string[];
}

export function createJobResync(
  ctx: ReconcileContext,
  onJobChanged: (job: JobRecord) => void | Promise<void>,
) {
  return async function resyncJobs(): Promise<ResyncReport> {
    const stored = await ctx.store.listJobs({ status: ['queued', 'waiting'] });
    const repositories = new Set([
      ...(await ctx.store.listRepositories()).map((r) => r.fullName),
      ...stored.map((j) => j.repository),
    ]);
    const report: ResyncReport = {
      repositories: repositories.size,
      recorded: 0,
      changed: 0,
      failedRepositories: [],
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
        for (const job of queued) await record(jobRecordFrom(job, isoNow(ctx)));
        for (const job of stored.filter((j) => j.repository === repository && !ids.has(j.id))) {
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
