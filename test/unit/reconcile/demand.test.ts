import { describe, expect, it } from 'vitest';
import {
  planPool,
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
