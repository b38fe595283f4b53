// Reads a scenario file: YAML validated against the scenario schema, inline pools against the
// RunnerPool schema (positions in the scenario file), pool files like `runnerctl apply -f`, and a
// check that every job of the workload matches a pool. Every problem names file:line:column and
// the field. Durations become milliseconds of simulated time.

import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { isScalar, LineCounter, parseDocument, type Document } from 'yaml';
import { parseDuration } from '../api/duration.ts';
import { ValidationError, type ValidationIssue } from '../api/errors.ts';
import { choosePool, explainNoMatch } from '../api/matching.ts';
import type { RunnerPool } from '../api/types.ts';
import {
  defaultPoolSchema,
  describeError,
  locate,
  pathToString,
  toPool,
  validatePoolSources,
  yamlErrorIssue,
  type Segment,
} from '../api/validate.ts';
import type { ValidateFunction } from 'ajv';
import { scenarioValidator } from './schema.ts';

export interface ScenarioJob {
  name: string;
  runsOn: string[];
  durationMs: number;
  matrix: number;
  conclusion: 'success' | 'failure';
  cancelAfterMs?: number;
}

export interface ScenarioRun {
  /** Index in `workload` (for messages). */
  index: number;
  atMs: number;
  repo: string;
  workflow: string;
  jobs: ScenarioJob[];
  repeat: { count: number; everyMs: number };
  cancelAfterMs?: number;
  rerunAfterMs?: number;
}

export interface ScenarioFaults {
  github: {
    serverErrorRate: number;
    tooManyRequestsRate: number;
    secondaryLimitRate: number;
    retryAfterMs: number;
  };
  webhooks: {
    dropRate: number;
    duplicateRate: number;
    reorderRate: number;
    delayRate: number;
    delayMs: number;
  };
  ecs: {
    throttleRate: number;
    spotCapacityShortageRate: number;
    taskStartFailureRate: number;
    spotInterruptionRate: number;
  };
  runners: { crashBeforeRegistrationRate: number };
  controller: { restarts: { atMs: number; downtimeMs: number }[] };
}

export interface Scenario {
  file: string;
  name: string;
  description?: string;
  seed: number;
  speed: number;
  /** Simulated time allowed from the start until every job completed. */
  timeoutMs: number;
  /** Simulated time allowed for draining the pools at the end. */
  drainTimeoutMs: number;
  cloud: { taskStartMs: number; restPerHour: number };
  controller: {
    resyncMs: number;
    runnerPollMs: number;
    leaseMs?: number;
    ingestion: 'both' | 'webhook' | 'sqs';
    /** The controller starts knowing no repository (it learns them from events only). */
    coldStart: boolean;
  };
  pools: RunnerPool[];
  workload: ScenarioRun[];
  faults: ScenarioFaults;
}

export const SCENARIO_DEFAULTS = {
  seed: 1,
  speed: 100,
  drainTimeoutMs: 30 * 60_000,
  taskStartMs: 50_000,
  restPerHour: 5_000,
  resyncMs: 60_000,
  runnerPollMs: 10_000,
  jobDurationMs: 60_000,
  retryAfterMs: 60_000,
  webhookDelayMs: 30_000,
  /** Added to the last arrival when the scenario sets no timeout. */
  timeoutSlackMs: 2 * 3600_000,
};

type Raw = Record<string, unknown>;

function ms(value: unknown, fallback: number): number {
  return typeof value === 'string' ? parseDuration(value) : fallback;
}

function num(value: unknown, fallback: number): number {
  return typeof value === 'number' ? value : fallback;
}

function obj(value: unknown): Raw {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Raw) : {};
}

interface Located {
  file: string;
  doc: Document;
  lineCounter: LineCounter;
}

function position(src: Located, segments: readonly Segment[], want: 'value' | 'key' = 'value') {
  const range = locate(src.doc, segments, want);
  if (!range) return { line: 1, column: 1 };
  const { line, col } = src.lineCounter.linePos(range[0]);
  return { line, column: col };
}

function schemaIssues(
  src: Located,
  validate: ValidateFunction,
  data: unknown,
  prefix: Segment[],
): ValidationIssue[] {
  if (validate(data)) return [];
  const errors = validate.errors ?? [];
  const wrongType = new Set(errors.filter((e) => e.keyword === 'type').map((e) => e.instancePath));
  return errors
    .filter((e) => e.keyword === 'type' || !wrongType.has(e.instancePath))
    .map((err) => {
      const d = describeError(err, data);
      const segments = [...prefix, ...d.segments];
      return {
        file: src.file,
        ...position(src, segments, d.at),
        path: pathToString(segments),
        message: d.message,
      };
    })
    .sort((a, b) => a.line - b.line || a.column - b.column);
}

/** Reads and validates a scenario file; throws ValidationError listing every problem. */
export async function loadScenario(file: string, shownAs = file): Promise<Scenario> {
  const text = await readFile(file, 'utf8');
  return parseScenario(text, shownAs, dirname(resolve(file)));
}

/** Validates scenario text. `baseDir` resolves relative pool file paths. */
export async function parseScenario(
  text: string,
  file: string,
  baseDir: string,
): Promise<Scenario> {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: true });
  if (doc.errors.length > 0) {
    throw new ValidationError(doc.errors.map((e) => yamlErrorIssue(file, e)));
  }
  const src: Located = { file, doc, lineCounter };
  if (doc.contents === null || (isScalar(doc.contents) && doc.contents.value === null)) {
    throw new ValidationError([
      {
        file,
        line: 1,
        column: 1,
        path: '(document)',
        message: 'empty scenario: expected a mapping with name, pools and workload',
      },
    ]);
  }
  const data: unknown = doc.toJS({ maxAliasCount: 100 });
  const issues = schemaIssues(src, scenarioValidator(), data, []);
  if (issues.length > 0) throw new ValidationError(issues);
  const raw = data as Raw;

  // Pools: inline documents (checked in place) and files (checked like `runnerctl apply -f`).
  const pools: RunnerPool[] = [];
  const poolSchema = defaultPoolSchema();
  const names = new Map<string, string>();
  const rawPools = raw.pools as Raw[];
  for (let i = 0; i < rawPools.length; i++) {
    const entry = rawPools[i]!;
    const found: { pool: RunnerPool; segments: Segment[]; where: string }[] = [];
    if ('file' in entry && Object.keys(entry).length === 1) {
      const segments: Segment[] = ['pools', i, 'file'];
      const path = entry.file;
      if (typeof path !== 'string' || path === '') {
        issues.push({
          file,
          ...position(src, segments),
          path: pathToString(segments),
          message: `expected a path to a RunnerPool YAML file, got ${JSON.stringify(path)}`,
        });
        continue;
      }
      const full = isAbsolute(path) ? path : resolve(baseDir, path);
      let poolText: string;
      try {
        poolText = await readFile(full, 'utf8');
      } catch (err) {
        issues.push({
          file,
          ...position(src, segments),
          path: pathToString(segments),
          message: `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
        });
        continue;
      }
      try {
        for (const v of validatePoolSources([{ file: path, text: poolText }], poolSchema)) {
          found.push({ pool: v.pool, segments, where: `${v.file}:${v.line}:${v.column}` });
        }
      } catch (err) {
        if (err instanceof ValidationError) issues.push(...err.issues);
        else throw err;
        continue;
      }
    } else {
      const segments: Segment[] = ['pools', i];
      const poolIssues = schemaIssues(src, poolSchema.validate, entry, segments);
      if (poolIssues.length > 0) {
        issues.push(...poolIssues);
        continue;
      }
      const pos = position(src, [...segments, 'metadata', 'name']);
      found.push({
        pool: toPool(entry, poolSchema.schema),
        segments: [...segments, 'metadata', 'name'],
        where: `${file}:${pos.line}:${pos.column}`,
      });
    }
    for (const f of found) {
      const first = names.get(f.pool.metadata.name);
      if (first !== undefined) {
        issues.push({
          file,
          ...position(src, f.segments),
          path: pathToString(f.segments),
          message: `duplicate pool name: expected names unique across the scenario, got ${JSON.stringify(f.pool.metadata.name)} again (first at ${first})`,
        });
        continue;
      }
      names.set(f.pool.metadata.name, f.where);
      pools.push(f.pool);
    }
  }
  if (issues.length > 0) throw new ValidationError(issues);

  // Workload: every job must match a pool, or it would wait forever.
  const matchable = pools.map((p) => ({ name: p.metadata.name, spec: p.spec }));
  const workload: ScenarioRun[] = (raw.workload as Raw[]).map((r, index) => {
    const jobs = (r.jobs as Raw[]).map((j, k): ScenarioJob => {
      const runsOn = j.runsOn as string[];
      const match = choosePool(runsOn, matchable);
      if (match.kind !== 'match') {
        const segments: Segment[] = ['workload', index, 'jobs', k, 'runsOn'];
        issues.push({
          file,
          ...position(src, segments),
          path: pathToString(segments),
          message:
            match.kind === 'refused'
              ? `no runner would take this job: ${match.reason}`
              : explainNoMatch(runsOn, matchable),
        });
      }
      return {
        name: j.name as string,
        runsOn,
        durationMs: ms(j.duration, SCENARIO_DEFAULTS.jobDurationMs),
        matrix: num(j.matrix, 1),
        conclusion: (j.conclusion as 'success' | 'failure' | undefined) ?? 'success',
        ...(j.cancelAfter !== undefined ? { cancelAfterMs: ms(j.cancelAfter, 0) } : {}),
      };
    });
    const repeat = obj(r.repeat);
    return {
      index,
      atMs: ms(r.at, 0),
      repo: r.repo as string,
      workflow: (r.workflow as string | undefined) ?? `workflow-${index + 1}`,
      jobs,
      repeat: { count: num(repeat.count, 1), everyMs: ms(repeat.every, 0) },
      ...(r.cancelAfter !== undefined ? { cancelAfterMs: ms(r.cancelAfter, 0) } : {}),
      ...(r.rerunAfter !== undefined ? { rerunAfterMs: ms(r.rerunAfter, 0) } : {}),
    };
  });
  if (issues.length > 0) throw new ValidationError(issues);

  const lastArrival = Math.max(
    ...workload.map((r) => r.atMs + (r.repeat.count - 1) * r.repeat.everyMs),
  );
  const faults = obj(raw.faults);
  const gh = obj(faults.github);
  const wh = obj(faults.webhooks);
  const ecs = obj(faults.ecs);
  const runners = obj(faults.runners);
  const restarts = (obj(faults.controller).restarts as Raw[] | undefined) ?? [];
  const cloud = obj(raw.cloud);
  const controller = obj(raw.controller);
  return {
    file,
    name: raw.name as string,
    ...(typeof raw.description === 'string' ? { description: raw.description } : {}),
    seed: num(raw.seed, SCENARIO_DEFAULTS.seed),
    speed: num(raw.speed, SCENARIO_DEFAULTS.speed),
    timeoutMs: ms(raw.timeout, lastArrival + SCENARIO_DEFAULTS.timeoutSlackMs),
    drainTimeoutMs: ms(raw.drainTimeout, SCENARIO_DEFAULTS.drainTimeoutMs),
    cloud: {
      taskStartMs: ms(cloud.taskStartTime, SCENARIO_DEFAULTS.taskStartMs),
      restPerHour: num(cloud.restPerHour, SCENARIO_DEFAULTS.restPerHour),
    },
    controller: {
      resyncMs: ms(controller.resyncInterval, SCENARIO_DEFAULTS.resyncMs),
      runnerPollMs: ms(controller.runnerPollInterval, SCENARIO_DEFAULTS.runnerPollMs),
      ...(controller.leaseDuration !== undefined
        ? { leaseMs: ms(controller.leaseDuration, 0) }
        : {}),
      ingestion:
        (controller.ingestion as Scenario['controller']['ingestion'] | undefined) ?? 'both',
      coldStart: controller.coldStart === true,
    },
    pools,
    workload,
    faults: {
      github: {
        serverErrorRate: num(gh.serverErrorRate, 0),
        tooManyRequestsRate: num(gh.tooManyRequestsRate, 0),
        secondaryLimitRate: num(gh.secondaryLimitRate, 0),
        retryAfterMs: ms(gh.retryAfter, SCENARIO_DEFAULTS.retryAfterMs),
      },
      webhooks: {
        dropRate: num(wh.dropRate, 0),
        duplicateRate: num(wh.duplicateRate, 0),
        reorderRate: num(wh.reorderRate, 0),
        delayRate: num(wh.delayRate, 0),
        delayMs: ms(wh.delay, SCENARIO_DEFAULTS.webhookDelayMs),
      },
      ecs: {
        throttleRate: num(ecs.throttleRate, 0),
        spotCapacityShortageRate: num(ecs.spotCapacityShortageRate, 0),
        taskStartFailureRate: num(ecs.taskStartFailureRate, 0),
        spotInterruptionRate: num(ecs.spotInterruptionRate, 0),
      },
      runners: { crashBeforeRegistrationRate: num(runners.crashBeforeRegistrationRate, 0) },
      controller: {
        restarts: restarts
          .map((r) => ({ atMs: ms(r.at, 0), downtimeMs: ms(r.downtime, 0) }))
          .sort((a, b) => a.atMs - b.atMs),
      },
    },
  };
}
