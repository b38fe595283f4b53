// The sandbox timeline: one line per change of the world, in the order things happen, each
// task line naming its runner, nothing printed twice.

import { describe, expect, it } from 'vitest';
import type { JobView, RunnerView } from '../../../controller/sandbox/github/index.ts';
import type { SimulatedTask } from '../../../controller/sandbox/ecs/simulator.ts';
import { shortTaskId, Timeline } from '../../../controller/sandbox/timeline.ts';
import type { RunnerRecord } from '../../../controller/store/types.ts';
import type { Clock } from '../../../controller/util/clock.ts';

const ARN = 'arn:aws:ecs:us-east-1:000000000000:task/runnerctl/0123456789abcdef0123456789abcdef';

function world() {
  let now = 1_000_000;
  const clock: Clock = { now: () => now, sleep: async () => {} };
  const state = {
    jobs: [] as JobView[],
    runners: [] as RunnerView[],
    tasks: [] as SimulatedTask[],
    records: [] as RunnerRecord[],
  };
  const lines: string[] = [];
  const timeline = new Timeline({
    clock,
    startMs: now,
    print: (l) => lines.push(l),
    sources: {
      jobs: async () => state.jobs,
      githubRunners: async () => state.runners,
      tasks: () => state.tasks,
      records: async () => state.records,
    },
  });
  return { state, lines, timeline, advance: (ms: number) => (now += ms), now: () => now };
}

const job = (status: JobView['status'], extra: Partial<JobView> = {}): JobView => ({
  id: 7,
  runId: 1,
  runAttempt: 1,
  repo: 'foo-organisation/jit-fargate-test',
  name: 'run-it (1)',
  labels: ['self-hosted', '1'],
  status,
  conclusion: null,
  runnerId: null,
  runnerName: null,
  environment: null,
  createdAtMs: 0,
  startedAtMs: null,
  completedAtMs: null,
  ...extra,
});

const record = (state: RunnerRecord['state'], extra: Partial<RunnerRecord> = {}): RunnerRecord => ({
  name: 'rctl-seed-1',
  pool: 'seed',
  state,
  labels: ['self-hosted', '1', '2'],
  attempts: 1,
  createdAt: '',
  updatedAt: '',
  timeline: [],
  version: 1,
  ...extra,
});

const task = (lastStatus: SimulatedTask['lastStatus'], createdAt: number): SimulatedTask => ({
  taskArn: ARN,
  clusterArn: 'arn:aws:ecs:us-east-1:000000000000:cluster/runnerctl',
  family: 'runnerctl-runner',
  lastStatus,
  desiredStatus: lastStatus === 'STOPPED' ? 'STOPPED' : 'RUNNING',
  capacityProvider: 'FARGATE_SPOT',
  group: 'runnerctl:seed',
  environment: {},
  createdAt,
  ...(lastStatus === 'STOPPED'
    ? { exitCode: 0, stoppedReason: 'Essential container in task exited' }
    : {}),
});

const gh = (status: RunnerView['status']): RunnerView => ({
  id: 1,
  name: 'rctl-seed-1',
  scope: 'org:foo-organisation',
  labels: ['self-hosted', '1', '2'],
  status,
  busy: false,
  jobId: null,
  os: 'linux',
  version: null,
});

describe('sandbox timeline', () => {
  it('tells a job’s story once, in the order it happened', async () => {
    const w = world();
    w.state.jobs = [job('queued')];
    await w.timeline.poll();
    await w.timeline.poll(); // nothing changed: nothing printed

    // One look sees the record, the task and the GitHub runner appear together.
    w.advance(1_500);
    w.state.records = [record('launching', { taskArn: ARN })];
    w.state.tasks = [task('PROVISIONING', w.now())];
    w.state.runners = [gh('offline')];
    await w.timeline.poll();

    // Everything of the next look happened in the world's order: RUNNING, online, in progress.
    w.advance(2_000);
    w.state.jobs = [job('in_progress', { runnerName: 'rctl-seed-1' })];
    w.state.runners = [gh('online')];
    w.state.tasks = [task('RUNNING', w.now() - 2_000)];
    await w.timeline.poll();

    w.advance(2_000);
    w.state.jobs = [job('completed', { runnerName: 'rctl-seed-1', conclusion: 'success' })];
    w.state.runners = [];
    w.state.records = [record('finished', { taskArn: ARN })];
    w.state.tasks = [task('STOPPED', w.now() - 4_000)];
    await w.timeline.poll();

    const id = shortTaskId(ARN);
    expect(id).toBe('01234567');
    expect(w.lines.map((l) => l.replace(/\s+/g, ' ').trim())).toEqual([
      '+ 0.0s job 7 run-it (1) queued, runs-on [self-hosted, 1] in foo-organisation/jit-fargate-test',
      '+ 1.5s runner rctl-seed-1 launching for pool seed [self-hosted, 1, 2]',
      '+ 1.5s runner rctl-seed-1 registered with GitHub (JIT config), offline',
      `+ 1.5s task ${id} PROVISIONING (runner rctl-seed-1, FARGATE_SPOT)`,
      `+ 3.5s task ${id} RUNNING`,
      '+ 3.5s runner rctl-seed-1 online, waiting for a job',
      '+ 3.5s job 7 run-it (1) in progress on runner rctl-seed-1',
      '+ 5.5s job 7 run-it (1) completed: success',
      '+ 5.5s runner rctl-seed-1 removed from GitHub',
      '+ 5.5s runner rctl-seed-1 record finished',
      `+ 5.5s task ${id} STOPPED, exit 0 (Essential container in task exited)`,
    ]);
  });

  it('holds a new task’s first line briefly until the controller recorded whose it is', async () => {
    const w = world();
    w.state.tasks = [task('PROVISIONING', w.now())];
    await w.timeline.poll();
    expect(w.lines).toEqual([]);
    w.state.records = [record('launching', { taskArn: ARN })];
    await w.timeline.poll();
    expect(w.lines.join('\n')).toMatch(/PROVISIONING \(runner rctl-seed-1, FARGATE_SPOT\)/);
  });

  it('dates a task first seen after PROVISIONING back to its creation', async () => {
    const w = world();
    const created = w.now();
    w.advance(1_500);
    w.state.tasks = [task('PENDING', created)];
    await w.timeline.poll();
    expect(w.lines.map((l) => l.replace(/\s+/g, ' ').trim())).toEqual([
      `+ 0.0s task ${shortTaskId(ARN)} PROVISIONING (FARGATE_SPOT)`,
    ]);
  });

  it('ignores what had finished before it started', async () => {
    const w = world();
    w.state.records = [record('finished', { taskArn: ARN })];
    w.state.tasks = [task('STOPPED', w.now() - 60_000)];
    await w.timeline.poll();
    expect(w.lines).toEqual([]);
  });

  it('prints times in order: a task dated back to its creation never follows a later line', async () => {
    const w = world();
    const created = w.now() + 400;
    w.advance(500);
    w.state.jobs = [job('queued')];
    await w.timeline.poll(); // +0.5s
    w.advance(200);
    // Seen at +0.7s: the record, and a task created at +0.4s.
    w.state.records = [record('launching', { taskArn: ARN })];
    w.state.tasks = [task('PENDING', created)];
    await w.timeline.poll();
    const times = w.lines.map((l) => Number(/^\+\s*([\d.]+)s/.exec(l)![1]));
    expect(w.lines).toHaveLength(3);
    expect(w.lines[2]).toMatch(/PROVISIONING/);
    expect([...times].sort((a, b) => a - b)).toEqual(times);
    expect(times[2]).toBeLessThanOrEqual(0.7);
  });

  it('prints draining before removed from GitHub, even when the controller acts between reads', async () => {
    const w = world();
    w.state.records = [record('busy', { taskArn: ARN })];
    w.state.runners = [gh('online')];
    // The controller writes draining, then deletes the GitHub runner, between the look's reads.
    let armed = false;
    const act = () => {
      if (!armed) return;
      armed = false;
      w.state.records = [record('draining', { taskArn: ARN })];
      w.state.runners = [];
    };
    const timeline = new Timeline({
      clock: { now: () => w.now(), sleep: async () => {} },
      startMs: w.now(),
      print: (l) => w.lines.push(l),
      sources: {
        jobs: async () => w.state.jobs,
        githubRunners: async () => {
          const seen = [...w.state.runners];
          act();
          return seen;
        },
        tasks: () => w.state.tasks,
        records: async () => {
          const seen = [...w.state.records];
          act();
          return seen;
        },
      },
    });
    await timeline.poll();
    w.lines.length = 0;
    armed = true;
    await timeline.poll();
    await timeline.poll();
    const text = w.lines.join('\n');
    const draining = text.indexOf('draining: the controller deletes its GitHub runner');
    expect(draining, text).toBeGreaterThanOrEqual(0);
    expect(text.indexOf('removed from GitHub'), text).toBeGreaterThan(draining);
  });

  it('says the GitHub runner is gone when GitHub removed it before the controller drained', async () => {
    const w = world();
    w.state.records = [record('busy', { taskArn: ARN })];
    w.state.runners = [gh('online')];
    await w.timeline.poll();
    w.state.runners = []; // an ephemeral runner: GitHub removes it after its job
    await w.timeline.poll();
    w.state.records = [record('draining', { taskArn: ARN })];
    await w.timeline.poll();
    expect(w.lines.at(-2)).toMatch(/removed from GitHub/);
    expect(w.lines.at(-1)).toMatch(/draining: its GitHub runner is gone; the controller stops/);
  });

  it('prints the draining step of a runner drained between two looks', async () => {
    const w = world();
    w.state.records = [record('idle', { taskArn: ARN })];
    w.state.runners = [gh('online')];
    await w.timeline.poll();
    // The controller drained it and finished the record before the next look.
    w.state.runners = [];
    w.state.records = [
      record('finished', { taskArn: ARN, timeline: [{ at: '', event: 'draining' }] }),
    ];
    await w.timeline.poll();
    expect(w.lines.slice(-3).map((l) => l.replace(/\s+/g, ' ').trim().slice(7))).toEqual([
      'runner rctl-seed-1 draining: the controller deletes its GitHub runner, then stops its task',
      'runner rctl-seed-1 removed from GitHub',
      'runner rctl-seed-1 record finished',
    ]);
  });
});
