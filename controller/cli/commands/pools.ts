// `get pools`, `describe pool` and `delete pool`.

import type { Command } from 'commander';
import type { PoolRecord, Store } from '../../store/types.ts';
import { ConflictError, NotFoundError } from '../../store/errors.ts';
import { addStoreOptions, type CliContext, type StoreFlags } from '../context.ts';
import { CliError, ExitStatus, UsageError } from '../errors.ts';
import { defaultPoolSchema, validatePoolSources } from '../../api/validate.ts';
import { readPoolSources } from './apply.ts';
import { formatAge, renderTable, withoutHeader } from '../format.ts';
import { verbCommand } from '../groups.ts';
import { selectorOption, type Selector } from '../selector.ts';
import { addWatchOptions, checkWatchable, watchChanges, type WatchFlags } from '../watch.ts';
import { isDocumentFormat, outputOption, printDocument, type OutputFormat } from '../output.ts';
import { count, poolPhase, poolResource, scopeText } from '../pool-view.ts';
import { API_VERSION } from '../../api/types.ts';

const POOL_ALIASES = ['pool', 'runnerpools', 'runnerpool', 'rp'];

function notFound(name: string): CliError {
  return new CliError(`runnerpool "${name}" not found`);
}

function sizesText(record: PoolRecord): string {
  const sizes = record.spec.sizes ?? [];
  if (sizes.length === 0) return '-';
  return sizes
    .map((s) => `${s.label}${s.label === record.spec.defaultSize ? '*' : ''}=${s.cpu}/${s.memory}`)
    .join(',');
}

function capacityText(record: PoolRecord): string {
  const strategy = record.spec.ecs.capacityProviderStrategy;
  if (!strategy || strategy.length === 0) return 'FARGATE';
  if (record.spec.ecs.launch === 'ec2') {
    return strategy.map((s) => `${s.capacityProvider}:${s.weight ?? 0}`).join(',');
  }
  const text = strategy.map((s) => `${s.capacityProvider}:${s.weight ?? 0}`).join(',');
  return record.spec.ecs.onDemandFallback === false ? text : `${text}+fallback`;
}

function table(records: PoolRecord[], wide: boolean, nowMs: number): string {
  const header = ['NAME', 'SCOPE', 'LABELS', 'MAX', 'QUEUED', 'LAUNCHING', 'IDLE', 'BUSY'];
  header.push('STATUS', 'AGE');
  if (wide) header.push('MIN-IDLE', 'PRIORITY', 'SIZES', 'CAPACITY', 'CLUSTER', 'GENERATION');
  const rows = records.map((r) => {
    const row = [
      r.name,
      scopeText(r.spec.github),
      r.spec.labels.join(','),
      String(r.spec.maxRunners),
      count(r, 'queuedJobs'),
      count(r, 'launching'),
      count(r, 'idle'),
      count(r, 'busy'),
      poolPhase(r),
      formatAge(r.createdAt, nowMs),
    ];
    if (wide) {
      row.push(
        String(r.spec.minIdle ?? 0),
        String(r.spec.priority ?? 0),
        sizesText(r),
        capacityText(r),
        r.spec.ecs.cluster,
        `${r.generation}/${r.status?.observedGeneration ?? '-'}`,
      );
    }
    return row;
  });
  return renderTable([header, ...rows]);
}

function describe(record: PoolRecord, nowMs: number): string {
  const { spec } = record;
  const lines: string[] = [];
  const field = (label: string, value: string, indent = 0) =>
    lines.push(`${' '.repeat(indent)}${`${label}:`.padEnd(24 - indent)}${value}`);
  field('Name', record.name);
  for (const [k, v] of Object.entries(record.metadata.labels ?? {})) field('Label', `${k}=${v}`);
  for (const [k, v] of Object.entries(record.metadata.annotations ?? {})) {
    field('Annotation', `${k}=${v}`);
  }
  field('Created', `${record.createdAt} (${formatAge(record.createdAt, nowMs)} ago)`);
  field('Generation', String(record.generation));
  field('Resource version', String(record.resourceVersion));
  if (record.deletionRequestedAt) {
    field(
      'Deletion requested',
      `${record.deletionRequestedAt}: the controller is draining its runners, then removes the pool`,
    );
  }
  field('Phase', poolPhase(record));
  lines.push('Spec:');
  const gh = spec.github;
  field('GitHub', scopeText(gh), 2);
  field('Runner group', gh.runnerGroup ?? 'Default', 2);
  field('Labels', spec.labels.join(', '), 2);
  field('Max runners', String(spec.maxRunners), 2);
  field('Min idle', String(spec.minIdle ?? 0), 2);
  field(
    'Per repository',
    spec.maxRunnersPerRepository === undefined
      ? 'no cap (maxRunners only)'
      : `at most ${spec.maxRunnersPerRepository} runner(s) for one repository's jobs`,
    2,
  );
  field('Repositories', spec.repositories?.join(', ') ?? 'all of the scope', 2);
  field('Public repos', spec.allowPublicRepositories ? 'served' : 'not served', 2);
  field('Priority', String(spec.priority ?? 0), 2);
  if (spec.sizes && spec.sizes.length > 0) {
    lines.push('  Sizes:');
    for (const s of spec.sizes) {
      const def = s.label === spec.defaultSize ? ' (default)' : '';
      lines.push(`    ${s.label}: cpu ${s.cpu}, memory ${s.memory} MiB${def}`);
    }
  } else {
    field('Sizes', 'none (the task definition decides cpu and memory)', 2);
  }
  lines.push('  ECS:');
  const ecs = spec.ecs;
  field('Cluster', ecs.cluster, 4);
  field('Task definition', ecs.taskDefinition, 4);
  field('Container', ecs.containerName ?? 'runner', 4);
  field('Launch', `${ecs.launch ?? 'fargate'}${spec.docker ? ', Docker daemon' : ''}`, 4);
  if (ecs.runtimePlatform) field('Platform', ecs.runtimePlatform.cpuArchitecture, 4);
  field('Network', ecs.networkMode ?? 'awsvpc', 4);
  field('Subnets', (ecs.subnets ?? []).join(', ') || '-', 4);
  field('Security groups', (ecs.securityGroups ?? []).join(', ') || '-', 4);
  field('Public IP', ecs.assignPublicIp ? 'yes' : 'no', 4);
  field('Capacity', capacityText(record), 4);
  const t = spec.timeouts ?? {};
  field(
    'Timeouts',
    `registration ${t.registration ?? '5m'}, idle ${t.idle ?? '10m'}, max job ${t.maxJobDuration ?? '6h'}`,
    2,
  );
  lines.push('Status:');
  const status = record.status;
  if (!status) {
    lines.push('  not reconciled yet (no controller has written a status)');
  } else {
    const current = status.observedGeneration >= record.generation ? 'up to date' : 'behind';
    field('Observed generation', `${status.observedGeneration} (${current})`, 2);
    field('Queued jobs', String(status.queuedJobs), 2);
    field('Launching', String(status.launching), 2);
    field('Idle', String(status.idle), 2);
    field('Busy', String(status.busy), 2);
    // Where demand went: jobs passed to another pool, or taken over from a paused or full one.
    for (const t of status.spilledTo ?? []) {
      field('Spilled', `${t.jobs} queued job(s) to pool ${t.pool}: ${t.reason}`, 2);
    }
    for (const f of status.takenOverFrom ?? []) {
      field('Taken over', `${f.jobs} queued job(s) from pool ${f.pool}: ${f.reason}`, 2);
    }
    lines.push('Conditions:');
    if (status.conditions.length === 0) {
      lines.push('  none');
    } else {
      const rows = status.conditions.map((c) => [
        c.type,
        c.status,
        c.reason,
        formatAge(c.lastTransitionTime, nowMs),
        c.message,
      ]);
      const tableText = renderTable([['TYPE', 'STATUS', 'REASON', 'AGE', 'MESSAGE'], ...rows]);
      lines.push(...tableText.split('\n').map((l) => `  ${l}`));
    }
  }
  return lines.join('\n');
}

export function register(program: Command, ctx: CliContext): void {
  const get = verbCommand(program, 'get', 'list resources');
  const getPools = get
    .command('pools')
    .aliases(POOL_ALIASES)
    .description('list runner pools (all, or the NAMEs given)')
    .argument('[names...]', 'pool names')
    .addOption(outputOption(['wide', 'yaml', 'json', 'name', 'jsonpath']))
    .addOption(selectorOption('pools'))
    .option('--no-headers', 'print tables without their header row');
  addStoreOptions(addWatchOptions(getPools)).action(
    async (
      names: string[],
      opts: StoreFlags &
        WatchFlags & { output?: OutputFormat; headers?: boolean; selector?: Selector },
    ) => {
      if (names.length > 0 && opts.selector) {
        throw new UsageError('give pool names or a selector (-l), not both', 'get pools');
      }
      checkWatchable(opts, opts.output, 'get pools');
      const list = async (store: Store) => {
        let records: PoolRecord[];
        let missing: string[] = [];
        if (opts.selector) {
          const match = opts.selector;
          records = (await store.listPools()).filter((r) => match(r.metadata.labels ?? {}));
        } else if (names.length === 0) {
          records = await store.listPools();
        } else {
          const found = await Promise.all(names.map((n) => store.getPool(n)));
          missing = names.filter((_, i) => !found[i]);
          records = found.filter((r): r is PoolRecord => !!r);
        }
        if (names.length === 0) records.sort((a, b) => a.name.localeCompare(b.name));
        return { records, missing };
      };
      const lines = (records: PoolRecord[]) =>
        opts.output?.kind === 'name'
          ? records.map((r) => `runnerpool/${r.name}`)
          : withoutHeader(table(records, opts.output?.kind === 'wide', ctx.deps.clock.now()))
              .split('\n')
              .filter((_, i) => i < records.length);
      await ctx.withStore(opts, async (store) => {
        const { records, missing } = await list(store);
        // As kubectl: list what exists, then an error for each name that does not (exit 1).
        if (names.length > 0 && records.length === 0) throw notFound(missing.join('", "'));
        const single = names.length === 1 ? records[0] : undefined;
        const doc = single
          ? poolResource(single)
          : { apiVersion: API_VERSION, kind: 'RunnerPoolList', items: records.map(poolResource) };
        if (isDocumentFormat(opts.output)) {
          printDocument(ctx, doc, opts.output);
        } else if (opts.output?.kind === 'name') {
          for (const line of lines(records)) ctx.out(line);
        } else if (records.length === 0) {
          ctx.err('No runner pools found.');
        } else {
          const text = table(records, opts.output?.kind === 'wide', ctx.deps.clock.now());
          ctx.out(opts.headers === false ? withoutHeader(text) : text);
        }
        if (missing.length > 0) {
          for (const name of missing) ctx.err(`error: ${notFound(name).message}`);
          throw new ExitStatus(1);
        }
        if (!opts.watch) return;
        await watchChanges(
          ctx,
          {
            kind: 'runnerpool',
            list: async () => (await list(store)).records,
            name: (r) => r.name,
            version: (r) => r.resourceVersion,
            lines,
          },
          records,
          opts.pollInterval!,
        );
      });
    },
  );

  const describeCmd = verbCommand(program, 'describe', 'show details of a resource')
    .command('pool')
    .aliases(['pools', 'runnerpool', 'runnerpools', 'rp'])
    .description('show a runner pool: spec, status, conditions, counts, deletion mark')
    .argument('<name>', 'pool name');
  addStoreOptions(describeCmd).action(async (name: string, opts: StoreFlags) => {
    const record = await ctx.withStore(opts, (store) => store.getPool(name));
    if (!record) throw notFound(name);
    ctx.out(describe(record, ctx.deps.clock.now()));
  });

  const deleteCmd = verbCommand(program, 'delete', 'delete resources')
    .command('pool')
    .aliases(['pools', 'runnerpool', 'runnerpools', 'rp'])
    .description(
      'mark runner pools for deletion: the controller drains their runners, then removes them',
    )
    .argument('[names...]', 'pool names (or -f FILE)')
    .option(
      '-f, --filename <path>',
      'delete every pool named in this file, directory or - (stdin); repeatable',
      collect,
    )
    .option(
      '--force',
      'remove the pool record now, without a controller; refused while it has live runners',
    );
  addStoreOptions(deleteCmd).action(
    async (names: string[], opts: StoreFlags & { force?: boolean; filename?: string[] }) => {
      if (names.length > 0 && opts.filename) {
        throw new UsageError('give pool names or -f FILE, not both', 'delete pool');
      }
      if (names.length === 0 && !opts.filename) {
        throw new UsageError(
          "missing required argument 'names' (pool names, or -f FILE)",
          'delete pool',
        );
      }
      const targets = opts.filename ? await poolNamesIn(ctx, opts.filename) : names;
      const missing: string[] = [];
      await ctx.withStore(opts, async (store) => {
        for (const name of targets) {
          if (!(await deleteOne(ctx, store, name, opts.force ?? false))) missing.push(name);
        }
      });
      // As kubectl: delete what exists, report each missing one, exit 1 if any was missing.
      if (missing.length > 0) {
        for (const name of missing) ctx.err(`error: ${notFound(name).message}`);
        throw new ExitStatus(1);
      }
    },
  );
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** The pool names of `delete -f`: the files are read and validated as `apply` does. */
async function poolNamesIn(ctx: CliContext, filenames: string[]): Promise<string[]> {
  const sources = await readPoolSources(filenames, ctx.io);
  const pools = validatePoolSources(sources, ctx.deps.poolSchema ?? defaultPoolSchema());
  if (pools.length === 0) throw new CliError(`no RunnerPool documents in ${filenames.join(', ')}`);
  return [...new Set(pools.map((p) => p.pool.metadata.name))];
}

/** Marks (or with --force removes) one pool; false when it does not exist. */
async function deleteOne(
  ctx: CliContext,
  store: Store,
  name: string,
  force: boolean,
): Promise<boolean> {
  try {
    if (force) {
      await forceDelete(ctx, store, name);
      return true;
    }
    const before = await store.getPool(name);
    if (!before) return false;
    if (before.deletionRequestedAt) {
      ctx.out(
        `runnerpool/${name} already marked for deletion at ${before.deletionRequestedAt}; ` +
          'the controller is draining it',
      );
      return true;
    }
    const record = await store.requestPoolDeletion(name);
    ctx.out(
      `runnerpool/${record.name} marked for deletion; the controller will drain its runners, ` +
        'then remove it',
    );
    return true;
  } catch (err) {
    if (err instanceof NotFoundError || err instanceof PoolGoneError) return false;
    throw err;
  }
}

/** forceDelete found no pool. */
class PoolGoneError extends CliError {}

/**
 * `delete pool --force`: no controller drains the pool, so only a pool without live runner
 * records may go. Jobs and finished runner records stay (they expire with the table's TTL), and
 * nothing is asked of GitHub or ECS: say so.
 */
async function forceDelete(ctx: CliContext, store: Store, name: string): Promise<void> {
  const live = (await store.listRunners({ pool: name })).filter((r) => r.state !== 'finished');
  if (live.length > 0) {
    throw new CliError(
      `runnerpool/${name} has ${live.length} live runner(s) (${live
        .slice(0, 5)
        .map((r) => `${r.name} ${r.state}`)
        .join(', ')}); --force removes only a pool without live runners: ` +
        'run the controller to drain it, or stop those tasks and remove those GitHub runners first',
    );
  }
  for (let attempt = 0; ; attempt++) {
    let record = await store.getPool(name);
    if (!record) throw new PoolGoneError(notFound(name).message);
    try {
      if (!record.deletionRequestedAt) record = await store.requestPoolDeletion(name);
      await store.removePool(name, record.resourceVersion);
      break;
    } catch (err) {
      // A controller wrote the status in between: read it again.
      if (err instanceof ConflictError && attempt < 3) continue;
      throw err;
    }
  }
  ctx.out(`runnerpool/${name} deleted (forced)`);
  ctx.err(
    `warning: runnerpool/${name} was removed without a controller: its job and finished runner ` +
      'records stay until they expire, and no GitHub runner or ECS task was checked',
  );
}
