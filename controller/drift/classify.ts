// Drift classification: a pure function of one snapshot of the store, GitHub and ECS. Every
// disagreement becomes a finding naming its objects and the action that resolves it.
//
// Grace: the controller converges in passes (runner polls, resyncs), GitHub's REST view lags,
// and launches and removals are in flight at any moment. A disagreement is reported only once it
// has held for longer than `graceMs` (or, for timeouts, longer than the timeout plus the grace),
// so a healthy running system reports in sync.

import { choosePool, explainNoMatch } from '../api/matching.ts';
import { repositoryRefusal } from '../api/repositories.ts';
import { TASK_TAG_POOL, TASK_TAG_RUNNER } from '../api/constants.ts';
import type { RunnerTask } from '../ecs/types.ts';
import type { GitHubRunner, WorkflowJob } from '../github/types.ts';
import { durationOr } from '../reconcile/durations.ts';
import { jobInScope } from '../reconcile/jobs.ts';
import { capPerRepository, routeDemand, type RoutedJob } from '../reconcile/pool/demand.ts';
import type { PoolRecord, RunnerRecord } from '../store/types.ts';
import type { DriftFinding, DriftObjects, DriftSettings, DriftSnapshot } from './types.ts';

const LIVE = new Set(['pending', 'configured', 'launching', 'idle', 'busy', 'draining']);
const SUPPLY = new Set(['pending', 'configured', 'launching', 'idle']);

interface Timeouts {
  registrationMs: number;
  idleMs: number;
  maxJobMs: number;
}

function timeoutsOf(pool: PoolRecord | undefined, s: DriftSettings): Timeouts {
  const t = pool?.spec.timeouts ?? {};
  const safe = (text: string | undefined, fallback: number, field: string) => {
    try {
      return durationOr(text, fallback, field);
    } catch {
      return fallback;
    }
  };
  return {
    registrationMs: safe(t.registration, s.registrationTimeoutMs, 'timeouts.registration'),
    idleMs: safe(t.idle, s.idleTimeoutMs, 'timeouts.idle'),
    maxJobMs: safe(t.maxJobDuration, s.maxJobDurationMs, 'timeouts.maxJobDuration'),
  };
}

/** Time (ms) of the newest timeline entry among `events`. */
function lastEvent(record: RunnerRecord, ...events: string[]): number | undefined {
  for (let i = record.timeline.length - 1; i >= 0; i--) {
    const entry = record.timeline[i]!;
    if (events.includes(entry.event)) return Date.parse(entry.at);
  }
  return undefined;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 120) return `${m}m`;
  const h = Math.floor(m / 60);
  return m % 60 ? `${h}h${m % 60}m` : `${h}h`;
}

const taskLive = (t: RunnerTask | undefined): boolean =>
  !!t && t.lastStatus !== 'STOPPED' && t.desiredStatus !== 'STOPPED';

/**
 * The pool a runner name belongs to: `<prefix>-<pool part>-<suffix>` where the pool part is the
 * pool's name, shortened to fit 64 characters.
 */
export function poolOfRunnerName(
  name: string,
  prefix: string,
  pools: readonly { name: string }[],
): string | undefined {
  const start = `${prefix}-`;
  if (!name.startsWith(start)) return undefined;
  const rest = name.slice(start.length);
  const cut = rest.lastIndexOf('-');
  if (cut < 1) return undefined;
  const part = rest.slice(0, cut);
  const exact = pools.find((p) => p.name === part);
  if (exact) return exact.name;
  const shortened = pools.filter((p) => p.name.startsWith(part) && p.name.length > part.length);
  return shortened.length === 1 ? shortened[0]!.name : undefined;
}

function ghStatus(runner: GitHubRunner): string {
  return `${runner.status}${runner.busy ? ', busy' : ''}`;
}

/** The objects of a finding about a queued job GitHub lists. */
function jobObjects(job: WorkflowJob): DriftObjects {
  return { jobId: job.id, jobUrl: job.htmlUrl, repository: job.repository, labels: job.labels };
}

function hasSelfHosted(labels: readonly string[]): boolean {
  return labels.some((l) => l.trim().toLowerCase() === 'self-hosted');
}

export function classifyDrift(snapshot: DriftSnapshot, settings: DriftSettings): DriftFinding[] {
  const now = snapshot.nowMs;
  const grace = settings.graceMs;
  const resync = settings.resyncSeconds
    ? `its next resync (every ${settings.resyncSeconds}s)`
    : 'its next resync';
  const findings: DriftFinding[] = [];
  const poolByName = new Map(snapshot.pools.map((p) => [p.name, p]));
  const recordByName = new Map(snapshot.records.map((r) => [r.name, r]));
  const live = snapshot.records.filter((r) => LIVE.has(r.state));
  const trackedArns = new Set(live.flatMap((r) => (r.taskArn ? [r.taskArn] : [])));
  const taskByArn = new Map(snapshot.tasks.map((t) => [t.arn, t]));
  const ghByName = new Map<string, GitHubRunner>();
  for (const { runner } of snapshot.githubRunners) ghByName.set(runner.name, runner);
  const reported = new Set<string>();

  // --- GitHub runners with our prefix and no live record ----------------------------------
  for (const { runner } of snapshot.githubRunners) {
    const record = recordByName.get(runner.name);
    if (record && record.state !== 'finished') continue;
    // Removal deletes the runner, then writes `finished`: a listing taken just before may
    // still show it.
    if (record && now - Date.parse(record.updatedAt) < grace) continue;
    const pool =
      record?.pool ?? poolOfRunnerName(runner.name, settings.runnerNamePrefix, snapshot.pools);
    findings.push({
      kind: 'runner-without-record',
      ...(pool ? { pool } : {}),
      message:
        `GitHub runner ${runner.name} (id ${runner.id}, ${ghStatus(runner)}) has ` +
        (record ? `only a finished record (finished ${record.updatedAt})` : 'no runner record'),
      objects: {
        runner: runner.name,
        githubRunnerId: runner.id,
        githubStatus: ghStatus(runner),
        ...(record?.taskArn ? { taskArn: record.taskArn } : {}),
      },
      actor: 'controller',
      action: runner.busy
        ? `kept while it runs a job; the controller's garbage collection deletes it afterwards, at ${resync}`
        : `the controller's garbage collection deletes it at ${resync}`,
    });
  }

  // --- Tasks we started that no live record tracks ----------------------------------------
  for (const task of snapshot.tasks) {
    if (!taskLive(task) || trackedArns.has(task.arn)) continue;
    const name = task.tags[TASK_TAG_RUNNER];
    const record = name ? recordByName.get(name) : undefined;
    // Started, not yet recorded: the launch in flight records it (or adopts it after a crash).
    if (record && !record.taskArn && (record.state === 'pending' || record.state === 'configured'))
      continue;
    if (task.createdAt !== undefined && now - task.createdAt < grace) continue;
    const gh = name ? ghByName.get(name) : undefined;
    const pool = task.tags[TASK_TAG_POOL] ?? record?.pool;
    findings.push({
      kind: 'task-without-record',
      ...(pool ? { pool } : {}),
      message:
        `ECS task ${task.arn} (${task.lastStatus}${name ? `, runner ${name}` : ''}) is tracked by ` +
        (record ? `no live record (record ${record.state})` : 'no runner record'),
      objects: {
        taskArn: task.arn,
        taskStatus: task.lastStatus,
        ...(name ? { runner: name } : {}),
        ...(gh ? { githubRunnerId: gh.id, githubStatus: ghStatus(gh) } : {}),
      },
      ...(task.createdAt !== undefined ? { since: iso(task.createdAt) } : {}),
      actor: 'controller',
      action: gh?.busy
        ? `kept while its runner runs a job; then the controller's garbage collection stops it`
        : `the controller's garbage collection stops it at ${resync}`,
    });
  }

  // --- Live records against GitHub and ECS --------------------------------------------------
  for (const record of live) {
    const pool = poolByName.get(record.pool);
    const t = timeoutsOf(pool, settings);
    const task = record.taskArn ? taskByArn.get(record.taskArn) : undefined;
    const gh = ghByName.get(record.name);
    const updated = Date.parse(record.updatedAt);
    const base = {
      pool: record.pool,
      objects: {
        runner: record.name,
        state: record.state,
        ...(record.githubRunnerId !== undefined ? { githubRunnerId: record.githubRunnerId } : {}),
        ...(gh ? { githubStatus: ghStatus(gh) } : {}),
        ...(record.taskArn ? { taskArn: record.taskArn } : {}),
        ...(task ? { taskStatus: task.lastStatus } : {}),
        ...(record.jobId !== undefined ? { jobId: record.jobId } : {}),
      },
    };
    const add = (f: Omit<DriftFinding, 'pool' | 'objects'>) => {
      findings.push({ ...base, ...f });
      reported.add(record.name);
    };

    if (!pool) {
      add({
        kind: 'record-stuck',
        message: `runner record ${record.name} (${record.state}) belongs to pool ${record.pool}, which no longer exists`,
        since: record.updatedAt,
        actor: 'admin',
        action:
          'no controller reconciles it: delete its GitHub runner and stop its task by hand, ' +
          `or re-apply pool ${record.pool} so the controller drains it`,
      });
      continue;
    }

    const running = ['launching', 'idle', 'busy'].includes(record.state);
    if (running && record.taskArn && !taskLive(task)) {
      const since = task?.stoppedAt ?? updated;
      if (now - since >= grace) {
        const why = !task
          ? 'ECS no longer knows the task'
          : `the task is ${task.lastStatus}${task.stoppedReason ? ` (${task.stoppedReason})` : ''}`;
        add({
          kind: 'record-without-task',
          message: `runner record ${record.name} is ${record.state} but ${why}: ${record.taskArn}`,
          since: iso(since),
          actor: 'controller',
          action:
            record.state === 'launching'
              ? `the controller finishes it if its runner ran a job, else counts a failed launch (attempt ${record.attempts} of ${settings.maxLaunchAttempts}): removes the GitHub runner and relaunches or gives up`
              : 'the controller removes the GitHub runner (busy ones are kept until GitHub frees them) and finishes the record on its next pass',
        });
      }
      continue;
    }
    if (running && !record.taskArn && now - updated >= grace && record.state !== 'launching') {
      add({
        kind: 'record-without-task',
        message: `runner record ${record.name} is ${record.state} and has no task`,
        since: record.updatedAt,
        actor: 'controller',
        action:
          'the controller removes the runner when GitHub shows it offline or gone; if it stays, delete the GitHub runner by hand',
      });
      continue;
    }

    if (record.state === 'launching') {
      const launched =
        lastEvent(record, 'task-started', 'task-adopted', 'runner-adopted') ?? updated;
      const deadline = launched + t.registrationMs;
      if (gh?.status !== 'online' && !gh?.busy && now >= deadline + grace) {
        add({
          kind: 'runner-not-registered',
          message:
            `task ${record.taskArn ?? '(none)'} of runner ${record.name} runs since ${iso(launched)}, ` +
            `but the runner ${gh ? `(id ${gh.id}) is ${gh.status}` : 'is not registered on GitHub'} ` +
            `past the registration timeout (${formatDuration(t.registrationMs)})`,
          since: iso(deadline),
          actor: 'controller',
          action:
            record.attempts < settings.maxLaunchAttempts
              ? `the controller deletes the registration, stops the task and relaunches (attempt ${record.attempts} of ${settings.maxLaunchAttempts}); check the task's logs if it repeats`
              : `the controller deletes the registration, stops the task and gives up (attempt ${record.attempts} of ${settings.maxLaunchAttempts}): the pool turns Degraded/LaunchFailed; check the task's logs and the runner image`,
        });
        continue;
      }
      if (gh && (gh.status === 'online' || gh.busy) && now >= deadline + grace) {
        add({
          kind: 'record-stuck',
          message: `runner record ${record.name} is still launching although GitHub shows it ${ghStatus(gh)}`,
          since: iso(deadline),
          actor: 'admin',
          action:
            'the controller should have marked it idle or busy: check that a controller holds the lease (its log, /readyz)',
        });
      }
      continue;
    }

    if (record.state === 'idle' || record.state === 'busy') {
      if (!gh && taskLive(task) && now - updated >= grace) {
        add({
          kind: 'record-without-runner',
          message: `runner record ${record.name} is ${record.state} but GitHub has no runner with that name; its task ${record.taskArn} is ${task!.lastStatus}`,
          since: record.updatedAt,
          actor: 'controller',
          action: 'the controller finishes the record and stops the task on its next pass',
        });
        continue;
      }
      if (gh && gh.status === 'offline' && taskLive(task) && now - updated >= grace) {
        add({
          kind: 'runner-offline',
          message: `GitHub shows runner ${record.name} (id ${gh.id}) offline while its task ${record.taskArn} is ${task!.lastStatus} (record ${record.state})`,
          since: record.updatedAt,
          actor: record.state === 'idle' ? 'controller' : 'admin',
          action:
            record.state === 'idle'
              ? 'the controller removes it (runner went offline): deletes the registration, then stops the task'
              : `the controller keeps a busy runner until its job completes or ${formatDuration(t.maxJobMs)} pass; ` +
                `if the runner process died, stop the task: aws ecs stop-task --cluster ${pool.spec.ecs.cluster} --task ${record.taskArn}`,
        });
        continue;
      }
    }

    // Stuck in a state past its timeout.
    if (record.state === 'pending' || record.state === 'configured') {
      const since =
        record.state === 'pending'
          ? (lastEvent(record, 'relaunch') ?? Date.parse(record.createdAt))
          : (lastEvent(record, 'configured') ?? updated);
      if (now - since >= t.registrationMs + grace) {
        const degraded = pool.status?.conditions.find(
          (c) => c.type === 'Degraded' && c.status === 'True',
        );
        add({
          kind: 'record-stuck',
          message: `runner record ${record.name} is ${record.state} for ${formatDuration(now - since)} (registration timeout ${formatDuration(t.registrationMs)})`,
          since: iso(since),
          actor: 'admin',
          action: degraded
            ? `launches of pool ${pool.name} fail (${degraded.reason}: ${degraded.message}); see runnerctl describe pool ${pool.name}`
            : `the controller should have launched or cancelled it: check that a controller holds the lease and its log for runner ${record.name}`,
        });
      }
    } else if (record.state === 'busy') {
      const since = lastEvent(record, 'busy') ?? updated;
      if (now - since >= t.maxJobMs + grace) {
        add({
          kind: 'record-stuck',
          message: `runner ${record.name} is busy for ${formatDuration(now - since)} (max job duration ${formatDuration(t.maxJobMs)})`,
          since: iso(since),
          actor: 'admin',
          action:
            'the controller keeps a runner GitHub calls busy; check the job on GitHub and cancel it if it hangs (the runner and task are then removed)',
        });
      }
    } else if (record.state === 'draining') {
      const since = lastEvent(record, 'draining') ?? updated;
      if (now - since >= grace) {
        add({
          kind: 'record-stuck',
          message: `runner ${record.name} is being removed for ${formatDuration(now - since)}`,
          since: iso(since),
          actor: 'controller',
          action:
            'the controller retries the removal every pass (GitHub may still call the runner busy); if it stays, look for errors about it in the controller log',
        });
      }
    }
  }

  // --- Queued jobs -------------------------------------------------------------------------
  const livePools = snapshot.pools.filter((p) => !p.deletionRequestedAt);
  const storedById = new Map(snapshot.storedJobs.map((j) => [j.id, j]));
  const runningById = new Map((snapshot.runningJobs ?? []).map((j) => [j.id, j]));
  const queuedIds = new Set(snapshot.queuedJobs.map((j) => j.id));
  const demandByPool = new Map<string, WorkflowJob[]>();
  const inScopeOf = (job: WorkflowJob) => {
    const owner = job.repository.split('/')[0] ?? '';
    return livePools.filter((p) =>
      jobInScope({ owner, repository: job.repository }, p.spec.github),
    );
  };
  // A job the store has not recorded yet gets its visibility when the resync records it; drift
  // then reports it as not recorded rather than as of unknown visibility.
  const repositoryOf = (job: WorkflowJob) => {
    const stored = storedById.get(job.id);
    return { repository: job.repository, visibility: stored ? stored.visibility : 'private' };
  };
  const candidatesOf = (job: WorkflowJob) => {
    const repo = repositoryOf(job);
    return inScopeOf(job).filter((p) => repositoryRefusal(repo, p.spec) === undefined);
  };
  // Routed as the controller routes them: a paused or full pool's overflow goes to the next match.
  const routed = routeDemand(
    snapshot.queuedJobs.filter((j) => j.status === 'queued'),
    candidatesOf,
  );
  const routeOf = new Map(routed.map((r) => [r.job.id, r]));
  for (const { job, match } of routed) {
    const repo = repositoryOf(job);
    const inScope = inScopeOf(job);
    const candidates = candidatesOf(job);
    if (match.kind === 'match') {
      demandByPool.set(match.pool, [...(demandByPool.get(match.pool) ?? []), job]);
      continue;
    }
    const created = Date.parse(job.createdAt);
    if (now - created < grace) continue;
    // Jobs for GitHub-hosted (or other) runners: without `self-hosted` they are not ours.
    if (!hasSelfHosted(job.labels)) continue;
    // A pool that would match by labels but does not serve the repository says why.
    const excluded = match.kind === 'none' ? choosePool(job.labels, inScope) : match;
    if (excluded.kind === 'match') {
      const pool = poolByName.get(excluded.pool)!;
      findings.push({
        kind: 'job-without-pool',
        pool: excluded.pool,
        message:
          `queued job ${job.id} ${job.name} in ${job.repository} runs-on [${job.labels.join(', ')}]: ` +
          `pool ${excluded.pool} does not serve it: ${repositoryRefusal(repo, pool.spec)}`,
        objects: jobObjects(job),
        since: job.createdAt,
        actor: 'admin',
        action: `add the repository to pool ${excluded.pool}'s repositories (or set allowPublicRepositories if public repositories may run there), or change the workflow's runs-on`,
      });
      continue;
    }
    findings.push({
      kind: 'job-without-pool',
      ...(match.kind === 'refused' ? { pool: match.pool } : {}),
      message:
        `queued job ${job.id} ${job.name} in ${job.repository} runs-on [${job.labels.join(', ')}]: ` +
        (match.kind === 'refused'
          ? match.reason
          : explainNoMatch(job.labels, candidates).replace(
              /^no pool matches \[[^\]]*\]: /,
              'no pool matches: ',
            )),
      objects: jobObjects(job),
      since: job.createdAt,
      actor: 'admin',
      action:
        match.kind === 'refused'
          ? `add size ${match.sizeLabel} to pool ${match.pool} or change the workflow's runs-on; GitHub fails the job after 24 h without a runner`
          : `apply a pool whose labels cover [${job.labels.join(', ')}] (in scope of ${job.repository}) or change the workflow's runs-on; GitHub fails the job after 24 h without a runner`,
    });
  }

  for (const [poolName, jobs] of demandByPool) {
    const pool = poolByName.get(poolName)!;
    const poolLive = live.filter((r) => r.pool === poolName);
    // Busy runners GitHub has not yet reported the job of still serve a job listed as queued.
    const supply = poolLive.filter(
      (r) =>
        SUPPLY.has(r.state) ||
        (r.state === 'busy' && (r.jobId === undefined || queuedIds.has(r.jobId))),
    ).length;
    const byAge = [...jobs].sort((a, b) => Date.parse(a.createdAt) - Date.parse(b.createdAt));
    // maxRunnersPerRepository: a repository's jobs beyond its cap are not demand at all.
    const running = new Map<string, number>();
    for (const r of poolLive) {
      const ran = r.state === 'busy' && r.jobId !== undefined && runningById.get(r.jobId);
      if (!ran) continue;
      running.set(ran.repository, (running.get(ran.repository) ?? 0) + 1);
    }
    const cap = pool.spec.maxRunnersPerRepository;
    const { kept } = capPerRepository(byAge, running, cap);
    const held = new Set(byAge.filter((j) => !kept.includes(j)).map((j) => j.id));
    // Counted, not paired: the jobs beyond the supply go without a runner (the newest first).
    const unserved = [...kept.slice(supply), ...byAge.filter((j) => held.has(j.id))].filter(
      (j) => now - Date.parse(j.createdAt) >= grace,
    );
    if (!unserved.length) continue;
    const atMax = poolLive.length >= pool.spec.maxRunners;
    const degraded = pool.status?.conditions.find(
      (c) => c.type === 'Degraded' && c.status === 'True',
    );
    for (const job of unserved) {
      const stored = storedById.get(job.id);
      if (held.has(job.id)) {
        findings.push({
          kind: 'job-without-runner',
          pool: poolName,
          message:
            `queued job ${job.id} ${job.name} in ${job.repository} [${job.labels.join(', ')}] is held by pool ${poolName}'s ` +
            `maxRunnersPerRepository ${cap} (${running.get(job.repository) ?? 0} running, ` +
            `${byAge.filter((j) => j.repository === job.repository).length} queued for the repository)`,
          objects: jobObjects(job),
          since: job.createdAt,
          actor: 'admin',
          action: `the job waits until runners of ${job.repository} finish; raise maxRunnersPerRepository of pool ${poolName} if the repository needs more at once`,
        });
        continue;
      }
      const action = atMax
        ? `pool ${poolName} is at maxRunners (${poolLive.length}/${pool.spec.maxRunners}): the job waits for a runner to finish; raise maxRunners if this persists`
        : degraded
          ? `launches of pool ${poolName} fail (${degraded.reason}: ${degraded.message}); the controller retries after its backoff; see runnerctl describe pool ${poolName}`
          : !stored
            ? `the controller has not recorded the job (its event was lost): its resync records it and launches a runner, at ${resync}`
            : `the controller launches a runner for pool ${poolName} on its next pass`;
      findings.push({
        kind: 'job-without-runner',
        pool: poolName,
        message:
          `queued job ${job.id} ${job.name} in ${job.repository} [${job.labels.join(', ')}] has no runner of pool ${poolName} starting or idle (${supply} for ${jobs.length} queued job(s))` +
          routeText(routeOf.get(job.id)),
        objects: jobObjects(job),
        since: job.createdAt,
        actor: atMax || degraded ? 'admin' : 'controller',
        action,
      });
    }
  }

  const readRepos = new Set(snapshot.repositories.map((r) => r.toLowerCase()));
  for (const job of snapshot.storedJobs) {
    if (job.status !== 'queued' || queuedIds.has(job.id)) continue;
    if (job.confirmation === 'pending') {
      if (now - Date.parse(job.updatedAt) < grace) continue;
      findings.push({
        kind: 'job-record-stale',
        ...(job.pool ? { pool: job.pool } : {}),
        message: `job ${job.id} ${job.name ?? ''} in ${job.repository} (run ${job.runId}) is unconfirmed: it came in an unsigned EventBridge event and GitHub does not list it as queued, so it is not demand`,
        objects: { jobId: job.id, repository: job.repository, labels: job.labels },
        since: job.updatedAt,
        actor: 'admin',
        action: `the resync reads the job from GitHub at ${resync} (a job GitHub does not have is recorded not_found); unconfirmed jobs that keep coming mean someone else puts events on the bus: check who may call events:PutEvents on it`,
      });
      continue;
    }
    if (!readRepos.has(job.repository.toLowerCase())) continue;
    if (now - Date.parse(job.updatedAt) < grace) continue;
    findings.push({
      kind: 'job-record-stale',
      ...(job.pool ? { pool: job.pool } : {}),
      message: `the store holds job ${job.id} ${job.name ?? ''} in ${job.repository} as queued; GitHub no longer lists it as queued`,
      objects: {
        jobId: job.id,
        ...(job.htmlUrl ? { jobUrl: job.htmlUrl } : {}),
        repository: job.repository,
        labels: job.labels,
      },
      since: job.updatedAt,
      actor: 'controller',
      action: `the controller's resync re-reads the job at ${resync} (until then it counts as demand)`,
    });
  }

  // --- Pools above maxRunners ---------------------------------------------------------------
  for (const pool of snapshot.pools) {
    const n = live.filter((r) => r.pool === pool.name).length;
    if (n <= pool.spec.maxRunners) continue;
    findings.push({
      kind: 'pool-above-max',
      pool: pool.name,
      message: `pool ${pool.name} has ${n} live runner records, above maxRunners ${pool.spec.maxRunners}`,
      objects: {},
      actor: 'controller',
      action:
        'the controller launches nothing more in this pool; idle runners beyond demand are removed after the idle timeout and busy ones finish their jobs',
    });
  }

  // --- Idle runners kept past the idle timeout with no demand for them ----------------------
  for (const pool of snapshot.pools) {
    const t = timeoutsOf(pool, settings);
    const idle = live
      .filter((r) => r.pool === pool.name && r.state === 'idle' && !reported.has(r.name))
      .map((r) => ({ r, since: lastEvent(r, 'idle') ?? Date.parse(r.updatedAt) }))
      .sort((a, b) => a.since - b.since);
    const needed = (pool.spec.minIdle ?? 0) + (demandByPool.get(pool.name)?.length ?? 0);
    for (const { r, since } of idle.slice(0, Math.max(0, idle.length - needed))) {
      if (now - since < t.idleMs + grace) continue;
      findings.push({
        kind: 'record-stuck',
        pool: pool.name,
        message: `runner ${r.name} is idle for ${formatDuration(now - since)} (idle timeout ${formatDuration(t.idleMs)}) with no job or minIdle needing it`,
        objects: {
          runner: r.name,
          state: r.state,
          ...(r.githubRunnerId !== undefined ? { githubRunnerId: r.githubRunnerId } : {}),
          ...(r.taskArn ? { taskArn: r.taskArn } : {}),
        },
        since: iso(since),
        actor: 'admin',
        action:
          'the controller should have removed it: check that a controller holds the lease and its log for this runner',
      });
    }
  }

  return findings;
}

/** Where the job's demand went and why: "; spilled from pool a (a at maxRunners 2)". */
function routeText(route: RoutedJob<WorkflowJob> | undefined): string {
  if (!route) return '';
  if (route.spilledFrom.length) {
    const from = route.spilledFrom.map((s) => s.from).join(', ');
    return `; spilled from pool ${from} (${route.spilledFrom.map((s) => s.reason).join(', ')})`;
  }
  return route.waiting ? `; every matching pool is paused or full (${route.waiting})` : '';
}
