import { describe, expect, it } from 'vitest';
import {
  describeSpills,
  planPool,
  planState,
  routeDemand,
  summariseSpills,
  type PlanInput,
  type SupplyRunner,
} from '../../../controller/reconcile/pool/demand.ts';
import { clientToken, runnerName } from '../../../controller/reconcile/names.ts';
import { durationOr } from '../../../controller/reconcile/durations.ts';

const NOW = 1_000_000;
const base: PlanInput = {
  maxRunners: 10,
  minIdle: 0,
  jobs: [],
  runners: [],
  nowMs: NOW,
  idleTimeoutMs: 60_000,
};
const r = (
  name: string,
  state: SupplyRunner['state'],
  extra: Partial<SupplyRunner> = {},
): SupplyRunner => ({
  name,
  state,
  ...extra,
});

describe('planPool (counted, not paired)', () => {
  const cases: {
    name: string;
    input: Partial<PlanInput>;
    launch?: (string | undefined)[];
    cancel?: string[];
    remove?: string[];
  }[] = [
    { name: 'nothing to do', input: {}, launch: [] },
    { name: 'one job, no supply', input: { jobs: [{}] }, launch: [undefined] },
    {
      name: 'jobs minus launching and idle',
      input: {
        jobs: [{}, {}, {}],
        runners: [r('a', 'launching'), r('b', 'idle', { idleSinceMs: NOW })],
      },
      launch: [undefined],
    },
    {
      name: 'busy runners are not supply',
      input: { jobs: [{}], runners: [r('a', 'busy')] },
      launch: [undefined],
    },
    {
      name: 'pending and configured are supply',
      input: { jobs: [{}, {}], runners: [r('a', 'pending'), r('b', 'configured')] },
      launch: [],
    },
    { name: 'minIdle adds demand', input: { minIdle: 2 }, launch: [undefined, undefined] },
    {
      name: 'maxRunners counts every live runner',
      input: { maxRunners: 3, jobs: [{}, {}, {}], runners: [r('a', 'busy'), r('b', 'draining')] },
      launch: [undefined],
    },
    {
      name: 'named sizes need their size; the rest take the default',
      input: {
        defaultSize: 'small',
        jobs: [{ requestedSize: 'large' }, {}, {}],
        runners: [r('a', 'idle', { size: 'small', idleSinceMs: NOW })],
      },
      launch: ['large', 'small'],
    },
    {
      name: 'a runner of another size serves a job that names none',
      input: {
        defaultSize: 'small',
        jobs: [{}],
        runners: [r('a', 'launching', { size: 'large' })],
      },
      launch: [],
    },
    {
      name: 'size names compare case-insensitively',
      input: {
        jobs: [{ requestedSize: 'LARGE' }],
        runners: [r('a', 'launching', { size: 'large' })],
      },
      launch: [],
    },
    {
      name: 'surplus pending records are cancelled',
      input: { jobs: [{}], runners: [r('a', 'idle', { idleSinceMs: NOW }), r('b', 'pending')] },
      launch: [],
      cancel: ['b'],
      remove: [],
    },
    {
      name: 'surplus idle runners go after the idle timeout only',
      input: {
        runners: [
          r('old', 'idle', { idleSinceMs: NOW - 60_000 }),
          r('new', 'idle', { idleSinceMs: NOW - 1 }),
        ],
      },
      launch: [],
      remove: ['old'],
    },
    {
      name: 'the most recently idle runner is the one kept',
      input: {
        jobs: [{}],
        runners: [
          r('old', 'idle', { idleSinceMs: NOW - 120_000 }),
          r('new', 'idle', { idleSinceMs: NOW - 61_000 }),
        ],
      },
      remove: ['old'],
    },
    {
      name: 'a busy runner whose in_progress event has not arrived serves one queued job',
      input: { jobs: [{}, {}], runners: [r('a', 'busy')], busyUnbound: [{}] },
      launch: [undefined],
    },
    {
      name: 'an unbound busy runner of a size serves a job of that size first',
      input: {
        defaultSize: 'small',
        jobs: [{ requestedSize: 'large' }, {}],
        runners: [r('a', 'busy', { size: 'large' })],
        busyUnbound: [{ size: 'large' }],
      },
      launch: ['small'],
    },
    {
      name: 'unbound busy runners never cancel minIdle',
      input: { minIdle: 1, runners: [r('a', 'busy')], busyUnbound: [{}] },
      launch: [undefined],
    },
    {
      name: 'launching runners beyond demand are left to come online',
      input: { runners: [r('a', 'launching')] },
      launch: [],
      cancel: [],
      remove: [],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const plan = planPool({ ...base, ...c.input });
      if (c.launch) expect(plan.launch).toEqual(c.launch);
      if (c.cancel) expect(plan.cancel).toEqual(c.cancel);
      if (c.remove) expect(plan.remove).toEqual(c.remove);
    });
  }

  it('says when launches are capped and when the next idle runner expires', () => {
    const plan = planPool({
      ...base,
      maxRunners: 1,
      jobs: [{}, {}],
      runners: [],
    });
    expect(plan).toMatchObject({ atMaxRunners: true, demand: 2, supply: 0 });
    const idle = planPool({ ...base, runners: [r('a', 'idle', { idleSinceMs: NOW - 45_000 })] });
    expect(idle.nextIdleExpiryMs).toBe(15_000);
  });
});

describe('planState (what the cache says now, not at the observation)', () => {
  it('a runner given a job since it was observed is busy, not supply for the next job', () => {
    // Observed idle and launching; then both runners' jobs went in progress, and the pass read
    // the demand: only job 3 is still queued.
    const observed = [r('a', 'idle'), r('b', 'launching')];
    const now = {
      a: { status: 'in_progress', runnerName: 'a' },
      b: { status: 'in_progress', runnerName: 'b' },
    } as Record<string, { status: string; runnerName: string }>;
    const stale = planPool({ ...base, jobs: [{}], runners: observed });
    expect(stale.launch).toHaveLength(0);
    const runners = observed.map((x) => ({ ...x, state: planState(x, now[x.name]) }));
    expect(runners.map((x) => x.state)).toEqual(['busy', 'busy']);
    expect(planPool({ ...base, jobs: [{}], runners }).launch).toHaveLength(1);
  });

  it('keeps the state without a job naming the runner, or for one still queued or pending', () => {
    expect(planState(r('a', 'idle'))).toBe('idle');
    expect(planState(r('a', 'idle'), { status: 'in_progress', runnerName: 'b' })).toBe('idle');
    expect(planState(r('a', 'idle'), { status: 'queued', runnerName: 'a' })).toBe('idle');
    expect(planState(r('a', 'pending'), { status: 'in_progress', runnerName: 'a' })).toBe(
      'pending',
    );
    expect(planState(r('a', 'draining'), { status: 'in_progress', runnerName: 'a' })).toBe(
      'draining',
    );
    expect(planState(r('a', 'configured'), { status: 'completed', runnerName: 'a' })).toBe('busy');
  });
});

describe('names', () => {
  it('builds <prefix>-<pool>-<suffix> within 64 characters', () => {
    expect(runnerName('rctl', 'linux', 'ab12cd34')).toBe('rctl-linux-ab12cd34');
    const long = runnerName('rctl', 'p'.repeat(80), 'ab12cd34');
    expect(long.length).toBe(64);
    expect(long.startsWith('rctl-ppp')).toBe(true);
    expect(long.endsWith('-ab12cd34')).toBe(true);
  });

  it('derives a 64-character ASCII client token, distinct per registration and capacity', () => {
    const t = clientToken('rctl-linux-ab12cd34', 101, 'FARGATE_SPOT');
    expect(t).toMatch(/^[0-9a-f]{64}$/);
    expect(clientToken('rctl-linux-ab12cd34', 101, 'FARGATE_SPOT')).toBe(t);
    expect(clientToken('rctl-linux-ab12cd34', 102, 'FARGATE_SPOT')).not.toBe(t);
    expect(clientToken('rctl-linux-ab12cd34', 101, 'FARGATE')).not.toBe(t);
  });
});

describe('durationOr', () => {
  it('parses pool durations and falls back when absent', () => {
    expect(durationOr('1h30m', 0, 'timeouts.idle')).toBe(5_400_000);
    expect(durationOr(undefined, 42, 'timeouts.idle')).toBe(42);
  });

  it('names the field and the value when it cannot parse', () => {
    expect(() => durationOr('5 minutes', 0, 'timeouts.idle')).toThrow(/timeouts.idle: .*5 minutes/);
  });
});

describe('routeDemand: demand goes where it can be served', () => {
  const pool = (name: string, maxRunners: number, priority = 0, busy = 0, labels = ['linux']) => ({
    name,
    spec: { labels, maxRunners, priority },
    status: { busy },
  });
  const jobs = (n: number, labels = ['self-hosted', 'linux']) =>
    Array.from({ length: n }, (_, i) => ({
      id: i + 1,
      labels,
      createdAt: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(),
    }));

  it('a paused pool hands every job to the next match, and says why', () => {
    const pools = [pool('a', 0, 10), pool('b', 5)];
    const routed = routeDemand(jobs(3), () => pools);
    expect(routed.map((r) => r.match.kind === 'match' && r.match.pool)).toEqual(['b', 'b', 'b']);
    expect(routed[0]!.spilledFrom).toEqual([{ from: 'a', reason: 'a paused (maxRunners 0)' }]);
    expect(describeSpills(summariseSpills(routed, 'a'))).toBe(
      '3 queued job(s) spilled to pool b: a paused (maxRunners 0)',
    );
    expect(describeSpills(summariseSpills(routed, 'b'))).toBe(
      '3 queued job(s) taken over from pool a: a paused (maxRunners 0)',
    );
  });

  it('a full pool keeps what it has room for (less its busy runners); the oldest jobs stay', () => {
    const pools = [pool('a', 3, 10, 1), pool('b', 10)];
    const routed = routeDemand(jobs(5).reverse(), () => pools);
    const where = routed.map((r) => [r.job.id, r.match.kind === 'match' && r.match.pool]);
    expect(where).toEqual([
      [1, 'a'],
      [2, 'a'],
      [3, 'b'],
      [4, 'b'],
      [5, 'b'],
    ]);
    expect(summariseSpills(routed, 'a').to).toEqual([
      { pool: 'b', jobs: 3, reason: 'a at maxRunners 3' },
    ]);
  });

  it('follows the documented order: priority, then specificity, then name', () => {
    const pools = [
      pool('z-specific', 10, 0, 0, ['linux']),
      pool('a-broad', 10, 0, 0, ['linux', 'x64']),
      pool('top', 0, 9),
    ];
    const [first] = routeDemand(jobs(1), () => pools);
    expect(first!.match).toMatchObject({ kind: 'match', pool: 'z-specific' });
    expect(first!.spilledFrom.map((s) => s.from)).toEqual(['top']);
  });

  it('when every match is full the job waits on its best match', () => {
    const pools = [pool('a', 0, 10), pool('b', 1, 0, 1)];
    const [r] = routeDemand(jobs(1), () => pools);
    expect(r!.match).toMatchObject({ kind: 'match', pool: 'a' });
    expect(r!.spilledFrom).toEqual([]);
    expect(r!.waiting).toBe('a paused (maxRunners 0), b at maxRunners 1');
  });
});
