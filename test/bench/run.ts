// `npm run bench`: the burst and scale benchmarks of issue 7. Prints a table and writes
// test/bench/results.json (with the machine facts: CPUs, load, Node version, date).
//
//   npm run bench                         # 1,000-job burst over 10 pools; 10,000 live records
//   npm run bench -- --jobs 200 --records 2000 --speed 5 --out /tmp/r.json
//   npm run bench -- --only scale          # the scale run alone; keeps the file's burst figures
//   npm run bench -- --only burst          # the bursts (1 and 3 GitHub Apps) alone; keeps the scale figures
//   npm run bench -- --only steady         # spaced runs: GitHub calls per job; keeps the other figures
//
// See docs/benchmark.md for what is measured and how. (An entry point: it runs when imported.)

import { readFile, writeFile } from 'node:fs/promises';
import { cpus, loadavg, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { format } from 'prettier';
import { runBurst, type BurstResult } from './burst.ts';
import { runScale, type LatencyResult, type ScaleResult } from './scale.ts';
import { runSteady, type SteadyResult } from './steady.ts';
import { round } from './stats.ts';

export interface BenchOptions {
  jobs: number;
  records: number;
  pools: number;
  /** Simulated seconds per real second in the burst. */
  speed: number;
  /**
   * The same for the burst with 3 Apps: three times the JIT rate asks three times the
   * controller's CPU per simulated minute, which a shared 2-core machine does not have at 3x.
   */
  apps3Speed: number;
  jobMs: number;
  passes: number;
  burstTimeoutMs: number;
  /** Finished runner records in the table during the scale run. */
  history: number;
  /** In-progress job records seeded (one per busy runner) and churn per scale pass. */
  inProgressJobs: boolean;
  churn: number;
  /** Event -> RunTask samples after the scale passes (seeded runners live). */
  latencySamples: number;
  /** The REST budget of the scale and steady runs (the burst keeps its own). */
  restPerHour: number;
  /** The steady run's clock (simulated seconds per real second) and minutes of runs per phase. */
  steadySpeed: number;
  steadyMinutes: number;
  log: (line: string) => void;
}

export interface BenchResults {
  machine: {
    date: string;
    node: string;
    platform: string;
    cpus: number;
    cpuModel: string;
    memoryBytes: number;
    loadAverageBefore: number[];
    loadAverageAfter: number[];
  };
  options: Omit<BenchOptions, 'log'>;
  /** The same burst with one GitHub App and with three (the JIT limit is per App). */
  burst: { apps1: BurstResult; apps3: BurstResult };
  scale: ScaleResult;
  /** The scale run's event latency samples, with the two figures of issue 11 up front. */
  latency?: LatencySummary;
  /** Spaced runs (not a burst): GitHub calls per job in steady state. */
  steady?: SteadyResult;
  totalSeconds: number;
}

export type LatencySummary = {
  eventToRunTaskP99Ms: number;
  completedToRemovedP50Ms: number;
} & LatencyResult;

/** The top-level `latency` of results.json, from the scale run's samples. */
export function latencySummary(scale: ScaleResult): LatencySummary | undefined {
  const l = scale.latency;
  if (!l) return undefined;
  return {
    eventToRunTaskP99Ms: l.eventToRunTaskMs.p99,
    completedToRemovedP50Ms: l.completedToRemovedMs.p50,
    ...l,
  };
}

export const DEFAULT_OPTIONS: Omit<BenchOptions, 'log'> = {
  jobs: 1_000,
  records: 10_000,
  pools: 10,
  speed: 3,
  apps3Speed: 1,
  jobMs: 30_000,
  passes: 3,
  burstTimeoutMs: 360_000,
  history: 500_000,
  inProgressJobs: true,
  churn: 10,
  latencySamples: 60,
  restPerHour: 5_000,
  steadySpeed: 10,
  steadyMinutes: 7,
};

const mib = (bytes: number) => `${round(bytes / 2 ** 20, 0)} MiB`;

/** The burst with one GitHub App, then with three (the JIT limit is per App). */
export async function runBursts(options: BenchOptions): Promise<BenchResults['burst']> {
  const burstWith = (apps: number, speed: number) =>
    runBurst({
      jobs: options.jobs,
      pools: options.pools,
      speed,
      jobMs: options.jobMs,
      timeoutMs: options.burstTimeoutMs,
      restPerHour: 100_000,
      apps,
      log: options.log,
    });
  const apps1 = await burstWith(1, options.speed);
  options.log(
    `burst again with 3 GitHub Apps (binding limit 3 x 180 JIT configs a minute), clock ${options.apps3Speed}x`,
  );
  const apps3 = await burstWith(3, options.apps3Speed);
  return { apps1, apps3 };
}

export async function runScaleOnly(options: BenchOptions): Promise<ScaleResult> {
  options.log(`scale: ${options.records} live runner records across ${options.pools} pools`);
  return runScale({
    records: options.records,
    pools: options.pools,
    busyShare: 0.8,
    passes: options.passes,
    restPerHour: options.restPerHour,
    history: options.history,
    inProgressJobs: options.inProgressJobs,
    churn: options.churn,
    latencySamples: options.latencySamples,
    log: options.log,
  });
}

/** Spaced single-job, matrix and mixed runs at the production REST budget (issue 11). */
export async function runSteadyOnly(options: BenchOptions): Promise<SteadyResult> {
  options.log(
    `steady: runs every 10-30 simulated s, ${options.steadyMinutes} simulated min per phase, clock ${options.steadySpeed}x`,
  );
  return runSteady({
    speed: options.steadySpeed,
    phaseMinutes: options.steadyMinutes,
    jobMs: options.jobMs,
    pools: 2,
    restPerHour: options.restPerHour,
    drainTimeoutMs: 120_000,
    log: options.log,
  });
}

export async function runBench(options: BenchOptions): Promise<BenchResults> {
  const started = Date.now();
  const loadAverageBefore = loadavg().map((n) => round(n, 2));
  options.log(
    `burst: ${options.jobs} jobs across ${options.pools} pools, clock ${options.speed}x real time`,
  );
  const burst = await runBursts(options);
  const scale = await runScaleOnly(options);
  const steady = await runSteadyOnly(options);
  const { log: _log, ...rest } = options;
  return {
    machine: {
      date: new Date().toISOString(),
      node: process.version,
      platform: `${process.platform}-${process.arch}`,
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? 'unknown',
      memoryBytes: totalmem(),
      loadAverageBefore,
      loadAverageAfter: loadavg().map((n) => round(n, 2)),
    },
    options: rest,
    burst,
    scale,
    ...(latencySummary(scale) ? { latency: latencySummary(scale) } : {}),
    steady,
    totalSeconds: round((Date.now() - started) / 1000),
  };
}

/** The figures as a two-column table. */
export function table(r: BenchResults): string {
  const b = r.burst.apps1;
  const b3 = r.burst.apps3;
  const s = r.scale;
  const rows: [string, string][] = [
    ['Burst', `${b.jobs} jobs queued in ${b.queueSpreadMs} ms across ${b.pools} pools`],
    ['  jobs completed', `${b.completed}/${b.jobs} (${b.succeeded} succeeded)`],
    ['  binding rate limit', `${b.limits.binding}: ${b.limits.bindingPerMinute}/min`],
    ['  launches (RunTask)', `${b.launches} (${b.surplusIdleRunners} surplus idle at the end)`],
    ['  launch throughput', `${b.launchesPerMinute}/min = ${b.throughputRatio}x the binding limit`],
    ['  queued -> RunTask', `p50 ${b.queuedToRunTaskSec.p50} s, p99 ${b.queuedToRunTaskSec.p99} s`],
    [
      '  queued -> job started',
      `p50 ${b.queuedToStartedSec.p50} s, p99 ${b.queuedToStartedSec.p99} s`,
    ],
    ['  GitHub calls per job', String(b.githubCallsPerJob)],
    ['  ECS calls per job', String(b.ecsCallsPerJob)],
    ['  DynamoDB calls per job', String(b.dynamodbCallsPerJob)],
    ['  rate-limit errors met', String(b.rateLimitErrors)],
    ['Burst, 3 GitHub Apps', `${b3.jobs} jobs, binding ${b3.limits.bindingPerMinute}/min`],
    [
      '  launch throughput',
      `${b3.launchesPerMinute}/min = ${b3.throughputRatio}x 3 x 180/min (${b3.completed}/${b3.jobs} completed)`,
    ],
    [
      '  queued -> RunTask',
      `p50 ${b3.queuedToRunTaskSec.p50} s, p99 ${b3.queuedToRunTaskSec.p99} s`,
    ],
    ['  rate-limit errors met', String(b3.rateLimitErrors)],
    [
      '  left behind',
      `${b.leftovers.githubRunners} GitHub runners, ${b.leftovers.liveTasks} tasks, ${b.leftovers.unfinishedRecords} records`,
    ],
    ['  controller peak RSS', mib(b.controller.peakRssBytes)],
    ['  time', `${b.simulatedSeconds} s simulated in ${b.realSeconds} s real (${b.speed}x)`],
    ['Scale', `${s.records} live records (${s.busy} busy, ${s.idle} idle) in ${s.pools} pools`],
    ['  seeding', `${s.seedSeconds} s`],
    [
      '  full reconcile pass',
      `median ${round(s.passMsMedian / 1000, 2)} s, max ${round(s.passMsMax / 1000, 2)} s (${s.passMs.length} passes)`,
    ],
    [
      '  calls per pass',
      `GitHub ${s.callsPerPass.github}, ECS ${s.callsPerPass.ecs}, DynamoDB ${s.callsPerPass.dynamodb}`,
    ],
    [
      '  store floor',
      `median ${round((s.floorMsMedian ?? 0) / 1000, 2)} s (raw Query of the live records); pass/floor ${s.passToFloorRatio}`,
    ],
    ['  first pass (cache sync)', `${round((s.firstPassMs ?? 0) / 1000, 2)} s`],
    ...(s.withoutHistory && s.historyWrite
      ? ([
          [
            '  pass without history',
            `median ${round(s.withoutHistory.passMsMedian / 1000, 2)} s (same run); with/without ${s.historyPassRatio}x`,
          ],
          [
            '  history written',
            `${s.history} finished records in ${s.historyWrite.seconds} s (${s.historyWrite.itemsPerSecond}/s)`,
          ],
        ] as [string, string][])
      : []),
    [
      '  settings',
      `REST ${s.restPerHour}/h, ${s.inProgressJobs} in-progress jobs, ${s.history} finished records, ${s.churnPerPass} launches + removals per pass`,
    ],
    ...(s.latency
      ? ([
          [
            '  event -> RunTask',
            `p50 ${s.latency.eventToRunTaskMs.p50} ms, p99 ${s.latency.eventToRunTaskMs.p99} ms (${s.latency.samples} jobs, ${s.latency.liveRunners} live runners, real clock)`,
          ],
          [
            '  completed -> removed',
            `p50 ${s.latency.completedToRemovedMs.p50} ms, p99 ${s.latency.completedToRemovedMs.p99} ms (${s.latency.timedOut} samples over 60 s)`,
          ],
        ] as [string, string][])
      : []),
    ['  records live after', String(s.liveAfter)],
    [
      '  controller RSS',
      `${mib(s.controller.rssAtStartBytes)} at start, peak ${mib(s.controller.peakRssBytes)}`,
    ],
    [
      'Machine',
      `${r.machine.cpus} CPUs, Node ${r.machine.node}, load ${r.machine.loadAverageBefore[0]} -> ${r.machine.loadAverageAfter[0]}`,
    ],
    ['Total', `${r.totalSeconds} s`],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n');
}

/** The figures --only keeps: from `out`, or the committed results when `out` is new. */
async function previousResults(out: string): Promise<BenchResults> {
  const committed = fileURLToPath(new URL('./results.json', import.meta.url));
  const text = await readFile(out, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT' && out !== committed) return readFile(committed, 'utf8');
    throw err;
  });
  return JSON.parse(text) as BenchResults;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      jobs: { type: 'string' },
      records: { type: 'string' },
      pools: { type: 'string' },
      speed: { type: 'string' },
      'apps3-speed': { type: 'string' },
      passes: { type: 'string' },
      history: { type: 'string' },
      'latency-samples': { type: 'string' },
      'steady-speed': { type: 'string' },
      'steady-minutes': { type: 'string' },
      only: { type: 'string' },
      out: { type: 'string' },
    },
  });
  const num = (name: string, value: string | undefined, fallback: number, zero = false) => {
    if (value === undefined) return fallback;
    const n = Number(value);
    if (!Number.isFinite(n) || n < 0 || (n === 0 && !zero)) {
      process.stderr.write(
        `bench: --${name} must be a ${zero ? 'non-negative' : 'positive'} number, got ${JSON.stringify(value)}\n`,
      );
      process.exit(2);
    }
    return n;
  };
  const options: BenchOptions = {
    ...DEFAULT_OPTIONS,
    jobs: num('jobs', values.jobs, DEFAULT_OPTIONS.jobs),
    records: num('records', values.records, DEFAULT_OPTIONS.records),
    pools: num('pools', values.pools, DEFAULT_OPTIONS.pools),
    speed: num('speed', values.speed, DEFAULT_OPTIONS.speed),
    apps3Speed: num('apps3-speed', values['apps3-speed'], DEFAULT_OPTIONS.apps3Speed),
    passes: num('passes', values.passes, DEFAULT_OPTIONS.passes),
    history: num('history', values.history, DEFAULT_OPTIONS.history, true),
    steadySpeed: num('steady-speed', values['steady-speed'], DEFAULT_OPTIONS.steadySpeed),
    steadyMinutes: num('steady-minutes', values['steady-minutes'], DEFAULT_OPTIONS.steadyMinutes),
    latencySamples: num(
      'latency-samples',
      values['latency-samples'],
      DEFAULT_OPTIONS.latencySamples,
      true,
    ),
    log: (line) => process.stdout.write(`${line}\n`),
  };
  const out = values.out ?? fileURLToPath(new URL('./results.json', import.meta.url));
  if (
    values.only !== undefined &&
    values.only !== 'scale' &&
    values.only !== 'burst' &&
    values.only !== 'steady'
  ) {
    process.stderr.write(
      `bench: --only takes "scale", "burst" or "steady", got ${JSON.stringify(values.only)}\n`,
    );
    process.exit(2);
  }
  let results: BenchResults;
  if (values.only === 'scale') {
    // The burst figures of the file stay; the scale figures and the machine facts are replaced.
    const previous = await previousResults(out);
    const started = Date.now();
    const before = loadavg().map((n) => round(n, 2));
    const scale = await runScaleOnly(options);
    const { log: _log, ...rest } = options;
    results = {
      ...previous,
      machine: {
        ...previous.machine,
        date: new Date().toISOString(),
        loadAverageBefore: before,
        loadAverageAfter: loadavg().map((n) => round(n, 2)),
      },
      options: { ...previous.options, ...rest },
      scale,
      ...(latencySummary(scale) ? { latency: latencySummary(scale) } : {}),
      totalSeconds: round((Date.now() - started) / 1000),
    };
  } else if (values.only === 'burst') {
    // The scale figures of the file stay; the bursts and the machine facts are replaced.
    const previous = await previousResults(out);
    const started = Date.now();
    const before = loadavg().map((n) => round(n, 2));
    const burst = await runBursts(options);
    const { log: _log, ...rest } = options;
    results = {
      ...previous,
      machine: {
        ...previous.machine,
        date: new Date().toISOString(),
        loadAverageBefore: before,
        loadAverageAfter: loadavg().map((n) => round(n, 2)),
      },
      options: { ...previous.options, ...rest },
      burst,
      totalSeconds: round((Date.now() - started) / 1000),
    };
  } else if (values.only === 'steady') {
    // The burst and scale figures of the file stay; the steady figures and machine facts are replaced.
    const previous = await previousResults(out);
    const started = Date.now();
    const before = loadavg().map((n) => round(n, 2));
    const steady = await runSteadyOnly(options);
    const { log: _log, ...rest } = options;
    results = {
      ...previous,
      machine: {
        ...previous.machine,
        date: new Date().toISOString(),
        loadAverageBefore: before,
        loadAverageAfter: loadavg().map((n) => round(n, 2)),
      },
      options: { ...previous.options, ...rest },
      steady,
      totalSeconds: round((Date.now() - started) / 1000),
    };
  } else {
    results = await runBench(options);
  }
  // Formatted as `npm run lint` (prettier) wants it, so a fresh results.json passes the check.
  await writeFile(out, await format(JSON.stringify(results), { parser: 'json' }));
  if (values.only === 'scale') {
    const s = results.scale;
    process.stdout.write(
      `\nscale: pass median ${s.passMsMedian} ms, floor median ${s.floorMsMedian} ms (${s.passToFloorRatio}x), peak RSS ${s.peakRssMiB} MiB\n` +
        (s.withoutHistory
          ? `history: ${s.history} finished records; pass median without ${s.withoutHistory.passMsMedian} ms, with ${s.passMsMedian} ms (${s.historyPassRatio}x)\n`
          : '') +
        (s.latency
          ? `latency: event -> RunTask p99 ${s.latency.eventToRunTaskMs.p99} ms, completed -> removed p50 ${s.latency.completedToRemovedMs.p50} ms (${s.latency.samples} jobs, ${s.latency.liveRunners} live runners)\n`
          : '') +
        `\nwrote ${out}\n`,
    );
  } else if (values.only === 'steady') {
    const st = results.steady!;
    const kinds = Object.values(st.phases)
      .map(
        (p) =>
          `${p.kind} ${p.githubCallsPerJob} (${p.grossGithubCallsPerJob} gross, ${p.githubChargedCallsPerJob} charged)`,
      )
      .join(', ');
    process.stdout.write(
      `\nsteady: ${st.githubCallsPerJob} GitHub calls per job above the idle floor of ${st.idleFloor.callsPerMinute}/min (${st.grossGithubCallsPerJob} gross, ${st.githubChargedCallsPerJob} charged) over ${st.jobs} jobs in ${st.runs} runs; ${kinds}; load ${results.machine.loadAverageBefore[0]} -> ${results.machine.loadAverageAfter[0]}\nper job by route: ${JSON.stringify(st.perJobByRoute)}\n\nwrote ${out}\n`,
    );
  } else {
    process.stdout.write(`\n${table(results)}\n\nwrote ${out}\n`);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
