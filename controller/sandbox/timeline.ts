// The sandbox's live timeline: watches the simulated world (GitHub jobs and runners, ECS tasks)
// and the controller's runner records, and prints one human line per change, with the time
// elapsed since the sandbox started. It only observes; it never acts on the world.

import type { JobView, RunnerView } from './github/index.ts';
import type { SimulatedTask } from './ecs/simulator.ts';
import type { RunnerRecord } from '../store/types.ts';
import type { Clock } from '../util/clock.ts';

export interface TimelineSources {
  jobs(): Promise<JobView[]>;
  githubRunners(): Promise<RunnerView[]>;
  tasks(): SimulatedTask[];
  records(): Promise<RunnerRecord[]>;
}

export interface TimelineOptions {
  sources: TimelineSources;
  print: (line: string) => void;
  clock: Clock;
  /** Time 0 of the elapsed column. Default: now. */
  startMs?: number;
  /** Also print intermediate task states (PENDING, ACTIVATING, ...) and record states. */
  verbose?: boolean;
}

/** A short, stable id of a task ARN (its last segment's first 8 characters). */
export function shortTaskId(taskArn: string): string {
  return (taskArn.split('/').pop() ?? taskArn).slice(0, 8);
}

const SUBJECT_WIDTH = 30;

export class Timeline {
  private readonly jobs = new Map<number, JobView>();
  private readonly runners = new Map<string, RunnerView>();
  private readonly tasks = new Map<string, SimulatedTask>();
  private readonly records = new Map<string, RunnerRecord>();
  private readonly runnerOfTask = new Map<string, string>();
  private startMs: number;
  private lastPrintedMs = -Infinity;
  private loop: Promise<void> | undefined;
  private abort: AbortController | undefined;
  private polling: Promise<void> | undefined;

  constructor(private readonly options: TimelineOptions) {
    this.startMs = options.startMs ?? options.clock.now();
  }

  /** A line of the timeline, e.g. `+   4.2s  task 3f2a9c1b   RUNNING`. */
  line(subject: string, what: string, atMs = this.options.clock.now()): void {
    const seconds = Math.max(0, atMs - this.startMs) / 1000;
    const elapsed = `+${seconds.toFixed(1).padStart(6)}s`;
    this.options.print(`${elapsed}  ${subject.padEnd(SUBJECT_WIDTH)} ${what}`);
  }

  /** Polls every `intervalMs` until stop(); time 0 is now unless `startMs` was given. */
  start(intervalMs = 100): void {
    if (this.loop) return;
    if (this.options.startMs === undefined) this.startMs = this.options.clock.now();
    const abort = new AbortController();
    this.abort = abort;
    this.loop = (async () => {
      while (!abort.signal.aborted) {
        await this.poll().catch(() => {
          // A source closing at shutdown; the next poll (if any) tries again.
        });
        await this.options.clock.sleep(intervalMs, abort.signal).catch(() => {});
      }
    })();
  }

  /** Stops polling after one last look, so the final changes are printed. */
  async stop(): Promise<void> {
    if (!this.loop) return;
    this.abort?.abort();
    await this.loop;
    this.loop = undefined;
    await this.poll().catch(() => {});
  }

  /** One look at the world; prints what changed since the last one. */
  poll(): Promise<void> {
    // Never two polls at once: they would print the same change twice.
    this.polling ??= this.pollOnce().finally(() => {
      this.polling = undefined;
    });
    return this.polling;
  }

  private async pollOnce(): Promise<void> {
    const { sources } = this.options;
    // GitHub's runners before the records: the controller writes `draining` before it deletes
    // the GitHub runner, so a removal seen here always comes with (or after) its draining.
    const runners = await sources.githubRunners();
    const [records, jobs] = await Promise.all([sources.records(), sources.jobs()]);
    const tasks = sources.tasks();
    // Changes seen in one look are printed in the order they happen in the world.
    const events: Event[] = [];
    this.diffRecords(records, events, runners);
    this.diffTasks(tasks, events);
    this.diffRunners(runners, events);
    this.diffJobs(jobs, events);
    events.sort((a, b) => a.phase - b.phase);
    // Times in print order never go back: what comes before a dated event (a task's
    // PROVISIONING, dated to its creation) happened by then, and nothing is dated before a
    // line already printed.
    const now = this.options.clock.now();
    const times = events.map((e) => e.atMs ?? now);
    for (let i = times.length - 2; i >= 0; i--) times[i] = Math.min(times[i]!, times[i + 1]!);
    events.forEach((e, i) => {
      this.lastPrintedMs = Math.max(this.lastPrintedMs, times[i]!);
      this.line(e.subject, e.what, this.lastPrintedMs);
    });
  }

  private diffRecords(records: RunnerRecord[], events: Event[], runners: RunnerView[]): void {
    for (const record of records) {
      if (record.taskArn) this.runnerOfTask.set(record.taskArn, record.name);
      const before = this.records.get(record.name);
      this.records.set(record.name, record);
      const subject = `runner ${record.name}`;
      if (!before) {
        if (record.state === 'finished') continue; // left from before the timeline started
        const size = record.size ? `, size ${record.size}` : '';
        events.push({
          phase: Phase.Decided,
          subject,
          what: `launching for pool ${record.pool} [${record.labels.join(', ')}]${size}`,
        });
        continue;
      }
      if (before.state === record.state) continue;
      // Drained between two looks: its timeline says so; print the draining step all the same.
      const drainedUnseen =
        record.state === 'finished' &&
        before.state !== 'draining' &&
        record.timeline.some((e) => e.event === 'draining');
      if (record.state === 'draining' || drainedUnseen) {
        // An ephemeral runner GitHub removed after its job: only the task is left to stop.
        const gone = !this.runners.has(record.name) && !runners.some((r) => r.name === record.name);
        events.push({
          phase: Phase.Draining,
          subject,
          what: gone
            ? 'draining: its GitHub runner is gone; the controller stops its task'
            : 'draining: the controller deletes its GitHub runner, then stops its task',
        });
      }
      if (record.state === 'finished') {
        const why = record.lastError ? ` (${record.lastError})` : '';
        events.push({ phase: Phase.Finished, subject, what: `record finished${why}` });
      } else if (record.state !== 'draining' && this.options.verbose) {
        events.push({
          phase: Phase.Decided,
          subject,
          what: `record ${before.state} -> ${record.state}`,
        });
      }
    }
  }

  private diffJobs(jobs: JobView[], events: Event[]): void {
    for (const job of jobs) {
      const before = this.jobs.get(job.id);
      this.jobs.set(job.id, job);
      if (before?.status === job.status) continue;
      const subject = `job ${job.id} ${job.name}`;
      switch (job.status) {
        case 'queued':
          events.push({
            phase: Phase.Queued,
            subject,
            what: `queued, runs-on [${job.labels.join(', ')}] in ${job.repo}`,
          });
          break;
        case 'waiting':
          events.push({
            phase: Phase.Queued,
            subject,
            what: `waiting for approval (environment ${job.environment ?? '?'})`,
          });
          break;
        case 'in_progress':
          events.push({
            phase: Phase.InProgress,
            subject,
            what: `in progress on runner ${job.runnerName ?? '?'}`,
          });
          break;
        case 'completed':
          events.push({
            phase: Phase.Completed,
            subject,
            what: `completed: ${job.conclusion ?? 'no conclusion'}${job.runnerName ? '' : ' (never ran)'}`,
          });
          break;
        default:
          events.push({ phase: Phase.Queued, subject, what: String(job.status) });
      }
    }
  }

  private diffTasks(tasks: SimulatedTask[], events: Event[]): void {
    const now = this.options.clock.now();
    for (const task of tasks) {
      const before = this.tasks.get(task.taskArn);
      const runner = this.runnerOfTask.get(task.taskArn);
      // The controller records the task's ARN just after RunTask answers: wait a moment for it,
      // so the first line of a task can say whose it is.
      if (!before && !runner && now - task.createdAt < TASK_OWNER_WAIT_MS) continue;
      this.tasks.set(task.taskArn, task);
      if (before?.lastStatus === task.lastStatus) continue;
      const subject = `task ${shortTaskId(task.taskArn)}`;
      if (!before) {
        if (task.lastStatus === 'STOPPED') continue; // from before the timeline started
        // Every task starts PROVISIONING when RunTask creates it: say so, at that time, even if
        // it was first seen a step later.
        const who = runner ? `runner ${runner}, ` : '';
        events.push({
          phase: Phase.TaskStarted,
          subject,
          what: `PROVISIONING (${who}${task.capacityProvider})`,
          atMs: task.createdAt,
        });
        if (task.lastStatus !== 'RUNNING') continue;
      }
      if (task.lastStatus === 'RUNNING') {
        events.push({ phase: Phase.TaskRunning, subject, what: 'RUNNING' });
      } else if (task.lastStatus === 'STOPPED') {
        const exit = task.exitCode !== undefined ? `exit ${task.exitCode}` : 'no exit code';
        events.push({
          phase: Phase.TaskStopped,
          subject,
          what: `STOPPED, ${exit} (${task.stoppedReason ?? task.stopCode ?? '?'})`,
        });
      } else if (this.options.verbose) {
        events.push({ phase: Phase.TaskStarted, subject, what: task.lastStatus });
      }
    }
  }

  private diffRunners(runners: RunnerView[], events: Event[]): void {
    const seen = new Set<string>();
    for (const runner of runners) {
      seen.add(runner.name);
      const before = this.runners.get(runner.name);
      this.runners.set(runner.name, runner);
      const subject = `runner ${runner.name}`;
      if (!before) {
        events.push({
          phase: Phase.Registered,
          subject,
          what: 'registered with GitHub (JIT config), offline',
        });
      }
      if ((before?.status ?? 'offline') !== runner.status) {
        events.push({
          phase: Phase.Online,
          subject,
          what: runner.status === 'online' ? 'online, waiting for a job' : 'offline',
        });
      }
    }
    for (const name of [...this.runners.keys()]) {
      if (seen.has(name)) continue;
      this.runners.delete(name);
      events.push({ phase: Phase.Removed, subject: `runner ${name}`, what: 'removed from GitHub' });
    }
  }
}

/** The order in which changes seen in one look happened in the world. */
enum Phase {
  Queued,
  Decided,
  Registered,
  TaskStarted,
  TaskRunning,
  Online,
  InProgress,
  Completed,
  Draining,
  Removed,
  Finished,
  TaskStopped,
}

interface Event {
  phase: Phase;
  subject: string;
  what: string;
  /** When it happened, if known better than "now". */
  atMs?: number;
}

/** How long a new task's first line waits for the controller to record whose task it is. */
const TASK_OWNER_WAIT_MS = 1_000;
