// Per-runner cost: billed time (image pull to stop, 1-minute minimum, per second), the price
// table (defaults, overrides, capacity providers), and `runnerctl cost` over a simulated day of
// finished runner records.

import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { costReport, parseSince } from '../../../controller/cli/commands/cost.ts';
import { run } from '../../../controller/cli/run.ts';
import { billedSeconds, regionOfArn, taskCost } from '../../../controller/cost/compute.ts';
import {
  DEFAULT_PRICES,
  mergePrices,
  parsePriceTable,
  PRICE_KEY_RESOLVERS,
} from '../../../controller/cost/prices.ts';
import type { RunnerRecord } from '../../../controller/store/types.ts';
import { ManualClock } from '../../support/fakes/manual-clock.ts';
import { MemoryStore } from '../../support/fakes/memory-store.ts';

const MIN = 60_000;
const base = {
  region: 'us-east-1',
  capacityProvider: 'FARGATE',
  cpu: 1024,
  memoryMiB: 2048,
  fromMs: 0,
};

describe('billed time and task cost', () => {
  it('bills per second, rounded up, with a one-minute minimum', () => {
    expect(billedSeconds(0, 1_000)).toBe(60);
    expect(billedSeconds(0, 60_000)).toBe(60);
    expect(billedSeconds(0, 61_001)).toBe(62);
    expect(billedSeconds(5_000, 0)).toBe(60);
  });

  it('prices 1 vCPU / 2 GB for 10 minutes on FARGATE, FARGATE_SPOT, ARM64 and extra storage', () => {
    const od = taskCost({ ...base, toMs: 10 * MIN }, DEFAULT_PRICES);
    // (0.04048 + 2 x 0.004445) / 6
    expect(od).toEqual({ usd: 0.008228, billedSeconds: 600, priceKey: 'FARGATE' });
    const spot = taskCost(
      { ...base, capacityProvider: 'FARGATE_SPOT', toMs: 10 * MIN },
      DEFAULT_PRICES,
    );
    expect('usd' in spot && spot.usd).toBeCloseTo(0.008228 * 0.3, 5);
    const arm = taskCost({ ...base, arch: 'ARM64', toMs: 10 * MIN }, DEFAULT_PRICES);
    expect(arm).toMatchObject({ priceKey: 'FARGATE:ARM64', usd: 0.006583 });
    // 120 GiB: 100 GiB beyond the included 20, at 0.000111 per GB-hour for 1 hour.
    const big = taskCost({ ...base, storageGiB: 120, toMs: 60 * MIN }, DEFAULT_PRICES);
    expect('usd' in big && big.usd).toBeCloseTo(0.04048 + 2 * 0.004445 + 100 * 0.000111, 6);
  });

  it('names what is missing: a region or a capacity provider without a price', () => {
    expect(taskCost({ ...base, region: 'ap-south-2', toMs: MIN }, DEFAULT_PRICES)).toEqual({
      missing: 'no prices for region ap-south-2',
    });
    expect(
      taskCost({ ...base, capacityProvider: 'docker-asg', toMs: MIN }, DEFAULT_PRICES),
    ).toEqual({ missing: 'no price for docker-asg in us-east-1' });
    // An EC2 capacity provider priced by name in the settings.
    const table = mergePrices({
      'us-east-1': { 'docker-asg': { vcpuHour: 0.05, gbHour: 0.005, storageGbHour: 0 } },
    });
    expect(taskCost({ ...base, capacityProvider: 'docker-asg', toMs: 60 * MIN }, table)).toEqual({
      usd: 0.06,
      billedSeconds: 3600,
      priceKey: 'docker-asg',
    });
    expect(table['us-east-1']!.FARGATE).toEqual(DEFAULT_PRICES['us-east-1']!.FARGATE);
    expect(PRICE_KEY_RESOLVERS.length).toBeGreaterThan(0);
  });

  it('validates settings overrides with the field named', () => {
    expect(() =>
      parsePriceTable({ 'us-east-1': { FARGATE: { vcpuHour: -1, gbHour: 0 } } }, 'cost.prices'),
    ).toThrow('cost.prices.us-east-1.FARGATE.vcpuHour: expected a price in USD >= 0, got -1');
    expect(() => parsePriceTable({ mars: {} }, 'cost.prices')).toThrow(
      'cost.prices.mars: not an AWS region',
    );
    expect(() => parsePriceTable({ 'eu-west-1': { FARGATE: { vcpu: 1 } } }, 'cost.prices')).toThrow(
      'cost.prices.eu-west-1.FARGATE: unknown field vcpu',
    );
    expect(
      parsePriceTable({ 'eu-west-1': { FARGATE_SPOT: { vcpuHour: 0.013, gbHour: 0.0014 } } }, 'x'),
    ).toEqual({
      'eu-west-1': { FARGATE_SPOT: { vcpuHour: 0.013, gbHour: 0.0014, storageGbHour: 0.000111 } },
    });
    expect(regionOfArn('arn:aws:ecs:eu-west-1:123:task/c/1')).toBe('eu-west-1');
    expect(regionOfArn('runners')).toBeUndefined();
  });
});

/** A simulated day: 48 runners, every 30 minutes, alternating pools, repositories and capacity. */
function day(startMs: number): RunnerRecord[] {
  const out: RunnerRecord[] = [];
  for (let i = 0; i < 48; i++) {
    const from = startMs + i * 30 * MIN;
    const spot = i % 2 === 0;
    const cost = taskCost(
      {
        ...base,
        capacityProvider: spot ? 'FARGATE_SPOT' : 'FARGATE',
        fromMs: from,
        toMs: from + (i % 3 === 0 ? 20_000 : 10 * MIN), // some shorter than the minimum
      },
      DEFAULT_PRICES,
    );
    if ('missing' in cost) throw new Error(cost.missing);
    const at = new Date(from + 10 * MIN).toISOString();
    out.push({
      name: `rctl-${spot ? 'spot' : 'od'}-${i}`,
      pool: spot ? 'spot' : 'od',
      state: 'finished',
      labels: ['self-hosted'],
      attempts: 1,
      createdAt: new Date(from).toISOString(),
      updatedAt: at,
      timeline: [],
      version: 3,
      jobId: 1000 + i,
      cost: {
        usd: cost.usd,
        billedSeconds: cost.billedSeconds,
        capacityProvider: spot ? 'FARGATE_SPOT' : 'FARGATE',
        region: 'us-east-1',
        cpu: 1024,
        memoryMiB: 2048,
        storageGiB: 20,
        jobId: 1000 + i,
        repository: i % 4 < 2 ? 'acme/app' : 'acme/lib',
        workflow: 'ci',
        at,
      },
    });
  }
  return out;
}

describe('runnerctl cost over a simulated day', () => {
  const start = Date.UTC(2026, 0, 1);
  const records = day(start);
  // 16 of 48 last 20 s and are billed 60 s; the other 32 are billed 600 s.
  const seconds = 16 * 60 + 32 * 600;
  const usdOf = (provider: string, n60: number, n600: number) => {
    const per = (s: number) => {
      const c = taskCost({ ...base, capacityProvider: provider, toMs: s * 1000 }, DEFAULT_PRICES);
      return 'usd' in c ? c.usd : NaN;
    };
    return n60 * per(60) + n600 * per(600);
  };
  // Even i: spot (i % 3 === 0 on 8 of 24), odd: on-demand (8 of 24).
  const spotUsd = usdOf('FARGATE_SPOT', 8, 16);
  const odUsd = usdOf('FARGATE', 8, 16);

  it('sums by pool, repository and workflow; the total is the same each way', () => {
    const byPool = costReport(records, start, 'pool');
    expect(byPool.total).toMatchObject({ runners: 48, jobs: 48, billedSeconds: seconds });
    expect(byPool.total.usd).toBeCloseTo(spotUsd + odUsd, 5);
    expect(byPool.rows.map((r) => [r.key, r.runners])).toEqual([
      ['od', 24],
      ['spot', 24],
    ]);
    expect(byPool.rows[0]!.usd).toBeCloseTo(odUsd, 5);
    for (const by of ['repository', 'workflow'] as const) {
      expect(costReport(records, start, by).total.usd).toBeCloseTo(byPool.total.usd, 6);
    }
    expect(
      costReport(records, start, 'repository')
        .rows.map((r) => r.key)
        .sort(),
    ).toEqual(['acme/app', 'acme/lib']);
    // --since cuts by when the runner finished.
    expect(costReport(records, start + 12 * 60 * MIN, 'pool').total.runners).toBe(24);
  });

  it('prints the totals from the store (table and -o json)', async () => {
    const clock = new ManualClock(start + 24 * 60 * MIN);
    const store = new MemoryStore(() => clock.now());
    for (const r of records) {
      const { version: _v, updatedAt: _u, ...rest } = r;
      await store.createRunner(rest);
    }
    const cli = async (...args: string[]) => {
      const out = new PassThrough();
      let stdout = '';
      out.on('data', (c) => (stdout += String(c)));
      const code = await run(
        args,
        {
          stdout: out,
          stderr: new PassThrough(),
          stdin: new PassThrough(),
          env: {},
          cwd: '/tmp',
        },
        { openStore: async () => store, clock },
      );
      return { code, stdout };
    };
    const table = await cli('cost', '--since', '1d');
    expect(table.code).toBe(0);
    const total = table.stdout.split('\n').find((l) => l.startsWith('TOTAL'))!;
    expect(total.split(/\s+/)).toEqual([
      'TOTAL',
      '48',
      '48',
      (seconds / 3600).toFixed(2),
      `$${(spotUsd + odUsd).toFixed(4)}`,
    ]);
    const json = await cli('cost', '--since', '7d', '--by', 'repository', '-o', 'json');
    const report = JSON.parse(json.stdout) as ReturnType<typeof costReport>;
    expect(report.total.usd).toBeCloseTo(spotUsd + odUsd, 5);
    expect(report.rows).toHaveLength(2);
    expect(() => parseSince('7 days')).toThrow('--since must look like 7d, 24h or 90m');
    expect((await cli('cost', '--since', 'soon')).code).toBe(2);
  });
});

describe('a finished runner is priced and bound to its job', () => {
  it('writes the cost of its task with the job, repository and workflow', async () => {
    const { World, poolSpec } = await import('../../support/fakes/world.ts');
    const w = new World();
    await w.pool('linux', {
      sizes: [{ label: 'small', cpu: 1024, memory: 2048 }],
      defaultSize: 'small',
      ecs: { ...poolSpec().ecs },
    });
    await w.queue(1, ['linux']);
    const c = w.controller();
    await c.reconcileOnce();
    w.bootTasks();
    await c.reconcileOnce();
    const [runner] = await w.live();
    await w.start(1, runner!.name);
    await c.reconcileOnce();
    await w.clock.advance(10 * MIN);
    await w.complete(1);
    for (let i = 0; i < 3; i++) await c.reconcileOnce();
    const done = (await w.store.getRunner(runner!.name))!;
    expect(done.state).toBe('finished');
    expect(done.cost).toMatchObject({
      jobId: 1,
      repository: 'acme/app',
      workflow: 'ci',
      capacityProvider: 'FARGATE',
      region: 'us-east-1',
      cpu: 1024,
      memoryMiB: 2048,
      billedSeconds: 600,
      usd: 0.008228,
    });
  });
});
