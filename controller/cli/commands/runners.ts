// `get runners|jobs` and `describe runner|job`: what the controller believes about each runner
// and job, with the runner's timeline and the time each step took. They read the store (store
// flags); pointed at a running sandbox (`--data-dir` holding sandbox.json) or given the
// controller's settings (`--config`), `describe runner` also reads the runner's GitHub
// registration and its ECS task (state changes).

import type { Command } from 'commander';
import { API_VERSION } from '../../api/types.ts';
import { githubScope } from '../../reconcile/names.ts';
import type { JobRecord, RunnerRecord, Store } from '../../store/types.ts';
import { addStoreOptions, type CliContext, type StoreFlags } from '../context.ts';
import { CliError, UsageError } from '../errors.ts';
import { verbCommand } from '../groups.ts';
import { selectorOption, type Selector } from '../selector.ts';
import { addWatchOptions, checkWatchable, watchChanges, type WatchFlags } from '../watch.ts';
import { withoutHeader } from '../format.ts';
import { isDocumentFormat, outputOption, printDocument, type OutputFormat } from '../output.ts';
import {
  costsByJob,
  describeJob,
  describeRunner,
  jobsTable,
  runnersTable,
  type LiveView,
} from '../runner-view.ts';
import { openWorld } from './drift.ts';

export interface ViewFlags extends StoreFlags {
  config?: string;
  pool?: string;
  output?: OutputFormat;
  headers?: boolean;
  selector?: Selector;
}

const LIST_FORMATS = ['wide', 'yaml', 'json', 'name', 'jsonpath'];

type World = Awaited<ReturnType<typeof openWorld>>;

/** The store of the flags: a sandbox's or a config's when given, else the store flags'. */
export async function withViewStore<T>(
  ctx: CliContext,
  flags: ViewFlags,
  fn: (store: Store, world?: World) => Promise<T>,
): Promise<T> {
  const configured = flags.config ?? ctx.io.env.RUNNERCTL_CONFIG;
  // The store of a running sandbox (by context or --data-dir): read GitHub and ECS there too.
  const where = configured ? undefined : await ctx.resolveStore(flags, 'describe');
  if (configured || where?.sandboxDir) {
    const world = await openWorld(ctx, { ...flags, dataDir: where?.sandboxDir }, 'describe');
    try {
      return await fn(world.store, world);
    } finally {
      await world.close();
    }
  }
  return ctx.useStore(where!, (store) => fn(store));
}

function addViewOptions(cmd: Command, outputs: string[]): Command {
  cmd.addOption(outputOption(outputs));
  if (outputs.includes('name')) cmd.option('--no-headers', 'print tables without their header row');
  cmd.option(
    '-c, --config <file>',
    "the controller's settings file: its table (and GitHub and ECS for describe)",
  );
  return addStoreOptions(cmd);
}

function json(ctx: CliContext, value: unknown): void {
  ctx.io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

async function liveView(world: World, record: RunnerRecord): Promise<LiveView> {
  const pool = await world.store.getPool(record.pool);
  const live: LiveView = {};
  if (!pool) return live;
  try {
    const scope = githubScope(pool.spec.github);
    live.githubRunner = (await world.github.findRunnerByName(scope, record.name)) ?? null;
  } catch {
    // GitHub unreachable: the record's view still stands.
  }
  if (record.taskArn) {
    try {
      const [task] = await world.ecs.describeTasks(pool.spec.ecs.cluster, [record.taskArn]);
      live.task = task ?? null;
    } catch {
      // ECS unreachable: the record's view still stands.
    }
  } else {
    live.task = null;
  }
  return live;
}

export function register(program: Command, ctx: CliContext): void {
  const get = verbCommand(program, 'get', 'list resources');
  const getRunners = get
    .command('runners')
    .aliases(['runner'])
    .description('list runner records: state, job, GitHub runner id, task (finished ones too)')
    .option('--pool <name>', 'only this pool')
    .addOption(selectorOption('runners (labels pool, state, size)'));
  addWatchOptions(addViewOptions(getRunners, LIST_FORMATS)).action(
    async (flags: ViewFlags & WatchFlags) => {
      checkWatchable(flags, flags.output, 'get runners');
      const match = flags.selector ?? (() => true);
      const wide = flags.output?.kind === 'wide';
      const list = async (store: Store) => {
        const records = (await store.listRunners(flags.pool ? { pool: flags.pool } : {})).filter(
          (r) => match(runnerLabels(r)),
        );
        return records.sort(
          (a, b) => a.pool.localeCompare(b.pool) || a.createdAt.localeCompare(b.createdAt),
        );
      };
      const lines = (records: RunnerRecord[]) =>
        flags.output?.kind === 'name'
          ? records.map((r) => `runner/${r.name}`)
          : rowsOf(runnersTable(records, wide, ctx.deps.clock.now()), records.length);
      await withViewStore(ctx, flags, async (store) => {
        const records = await list(store);
        if (isDocumentFormat(flags.output)) {
          return printDocument(
            ctx,
            listOf('RunnerList', records.map(runnerResource)),
            flags.output,
          );
        }
        if (flags.output?.kind === 'name') lines(records).forEach((l) => ctx.out(l));
        else if (!records.length) ctx.err('No runner records found.');
        else {
          const text = runnersTable(records, wide, ctx.deps.clock.now());
          ctx.out(flags.headers === false ? withoutHeader(text) : text);
        }
        if (!flags.watch) return;
        await watchChanges(
          ctx,
          {
            kind: 'runner',
            list: () => list(store),
            name: (r) => r.name,
            version: (r) => r.version,
            lines,
          },
          records,
          flags.pollInterval!,
        );
      });
    },
  );

  const getJobs = get
    .command('jobs')
    .aliases(['job'])
    .description('list the jobs the controller knows: status, pool, runner')
    .option('--pool <name>', 'only jobs this pool counted')
    .addOption(selectorOption('jobs (labels pool, repository, owner, status)'));
  addWatchOptions(addViewOptions(getJobs, LIST_FORMATS)).action(
    async (flags: ViewFlags & WatchFlags) => {
      checkWatchable(flags, flags.output, 'get jobs');
      const wide = flags.output?.kind === 'wide';
      const match = flags.selector ?? (() => true);
      const list = async (store: Store) => {
        const jobs = (await store.listJobs(flags.pool ? { pool: flags.pool } : {})).filter((j) =>
          match(jobLabels(j)),
        );
        return jobs.sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id - b.id);
      };
      await withViewStore(ctx, flags, async (store) => {
        const jobs = await list(store);
        // The wide listing shows each job's cost, from its finished runners.
        const costs = wide
          ? costsByJob(await store.listRunners({ states: ['finished'] }))
          : undefined;
        const lines = (items: JobRecord[]) =>
          flags.output?.kind === 'name'
            ? items.map((j) => `job/${j.id}`)
            : rowsOf(jobsTable(items, wide, ctx.deps.clock.now(), costs), items.length);
        if (isDocumentFormat(flags.output)) {
          return printDocument(ctx, listOf('JobList', jobs.map(jobResource)), flags.output);
        }
        if (flags.output?.kind === 'name') lines(jobs).forEach((l) => ctx.out(l));
        else if (!jobs.length) ctx.err('No jobs found.');
        else {
          const text = jobsTable(jobs, wide, ctx.deps.clock.now(), costs);
          ctx.out(flags.headers === false ? withoutHeader(text) : text);
        }
        if (!flags.watch) return;
        await watchChanges(
          ctx,
          {
            kind: 'job',
            list: () => list(store),
            name: (j) => String(j.id),
            version: (j) => j.version,
            lines,
          },
          jobs,
          flags.pollInterval!,
        );
      });
    },
  );

  const describe = verbCommand(program, 'describe', 'show details of a resource');
  const describeRunnerCmd = describe
    .command('runner')
    .aliases(['runners'])
    .description("show a runner record and its timeline, with each step's duration")
    .argument('<name>', 'runner name');
  addViewOptions(describeRunnerCmd, ['json']).action(async (name: string, flags: ViewFlags) => {
    const shown = await withViewStore(ctx, flags, async (store, world) => {
      const record = await store.getRunner(name);
      if (!record) throw new CliError(`runner "${name}" not found`);
      return { record, live: world ? await liveView(world, record) : undefined };
    });
    if (flags.output?.kind === 'json') {
      const { runnerTimeline } = await import('../runner-view.ts');
      return json(ctx, {
        ...shown.record,
        steps: runnerTimeline(shown.record, shown.live?.task ?? undefined),
        ...(shown.live ? { live: shown.live } : {}),
      });
    }
    ctx.out(describeRunner(shown.record, ctx.deps.clock.now(), shown.live));
  });

  const describeJobCmd = describe
    .command('job')
    .aliases(['jobs'])
    .description('show a job: status, pool, runner, and the timeline of the runner that ran it')
    .argument('<id>', 'workflow job id');
  addViewOptions(describeJobCmd, ['json']).action(async (id: string, flags: ViewFlags) => {
    const jobId = Number(id);
    if (!Number.isSafeInteger(jobId) || jobId <= 0) {
      throw new UsageError(
        `job id must be a positive integer, got ${JSON.stringify(id)}`,
        'describe job',
      );
    }
    const { job, runners } = await withViewStore(ctx, flags, async (store) => {
      const job = await store.getJob(jobId);
      if (!job) throw new CliError(`job ${jobId} not found`);
      return { job, runners: await runnersOf(store, job) };
    });
    if (flags.output?.kind === 'json') return json(ctx, { ...job, runners });
    ctx.out(describeJob(job, runners, ctx.deps.clock.now()));
  });
}

/** A table's rows without its header: one line per item. */
function rowsOf(table: string, count: number): string[] {
  return withoutHeader(table)
    .split('\n')
    .filter((_, i) => i < count);
}

function listOf(kind: string, items: unknown[]) {
  return { apiVersion: API_VERSION, kind, items };
}

/**
 * Labels a runner carries for `-l` selectors and `metadata.labels`: its pool, state and size.
 * (A runner record has no labels of its own; `labels` is its runs-on label set.)
 */
export function runnerLabels(r: RunnerRecord): Record<string, string> {
  return { pool: r.pool, state: r.state, ...(r.size ? { size: r.size } : {}) };
}

/** A job's labels: its pool (when matched), repository (owner/name), owner and status. */
export function jobLabels(j: JobRecord): Record<string, string> {
  return {
    ...(j.pool ? { pool: j.pool } : {}),
    repository: j.repository,
    owner: j.owner,
    status: j.status,
  };
}

/** A runner record as a list item: Kubernetes-style metadata, then the record's own fields. */
function runnerResource(r: RunnerRecord) {
  return {
    kind: 'Runner',
    metadata: { name: r.name, labels: runnerLabels(r), creationTimestamp: r.createdAt },
    ...r,
  };
}

function jobResource(j: JobRecord) {
  return {
    kind: 'Job',
    metadata: { name: String(j.id), labels: jobLabels(j), creationTimestamp: j.createdAt },
    ...j,
  };
}

/** The runner records of a job: the one GitHub says ran it, and any bound to it. */
async function runnersOf(store: Store, job: JobRecord): Promise<RunnerRecord[]> {
  const out = new Map<string, RunnerRecord>();
  if (job.runnerName) {
    const r = await store.getRunner(job.runnerName);
    if (r) out.set(r.name, r);
  }
  const pools = job.pool ? [job.pool] : undefined;
  const candidates = pools
    ? await store.listRunners({ pool: pools[0]! })
    : await store.listRunners();
  for (const r of candidates) if (r.jobId === job.id) out.set(r.name, r);
  return [...out.values()];
}
