// `runnerctl apply -f FILE|DIR|-`: validates every document first, writes only when all are valid.

import { existsSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import {
  validatePoolSources,
  type AllowedNetwork,
  type PoolSource,
  type ValidatedPool,
} from '../../api/validate.ts';
import { applyResultFor } from '../../store/apply-result.ts';
import type { PoolRecord } from '../../store/types.ts';
import type { RunnerPool } from '../../api/types.ts';
import { publicRunnerGroupWarnings } from '../runner-group-check.ts';
import { defaultPoolSchema } from '../../api/validate.ts';
import { addStoreOptions, type CliContext, type CliIo, type StoreFlags } from '../context.ts';
import { CliError, UsageError } from '../errors.ts';

const STDIN = '-';
const YAML_FILE = /\.ya?ml$/i;

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** Per-call input limits (docs/runnerpool.md): a mistake never writes thousands of pools. */
export const DEFAULT_MAX_DOCUMENTS = 500;
export const DEFAULT_MAX_BYTES = 1024 * 1024;

export interface InputLimits {
  maxBytes: number;
}

function tooLarge(what: string, limit: number): CliError {
  return new CliError(
    `${what}: more than ${limit} bytes of input in one apply; split it, or raise the limit with --max-bytes`,
  );
}

/** YAML is text: a NUL byte or invalid UTF-8 is refused, and no byte of it is echoed. */
function decodeText(file: string, bytes: Buffer): string {
  const text = bytes.toString('utf8');
  // Invalid UTF-8 decodes to U+FFFD and so does not encode back to the same bytes.
  if (bytes.includes(0) || (text.includes('\uFFFD') && !Buffer.from(text).equals(bytes))) {
    throw new CliError(`${file}: binary input (not UTF-8 text); expected YAML`);
  }
  return text;
}

async function readStdin(stdin: NodeJS.ReadableStream, limits: InputLimits, used: number) {
  const chunks: Buffer[] = [];
  let size = used;
  for await (const chunk of stdin) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    size += buf.length;
    if (size > limits.maxBytes) throw tooLarge('<stdin>', limits.maxBytes);
    chunks.push(buf);
  }
  return Buffer.concat(chunks);
}

/** Reads each -f argument: a file, every *.yaml / *.yml of a directory (sorted), or stdin. */
export async function readPoolSources(
  paths: readonly string[],
  io: CliIo,
  limits: InputLimits = { maxBytes: DEFAULT_MAX_BYTES },
): Promise<PoolSource[]> {
  const sources: PoolSource[] = [];
  let used = 0;
  const readChecked = async (file: string, abs: string) => {
    // The size first: a huge file is refused before it is read.
    const { size } = await stat(abs);
    if (used + size > limits.maxBytes) throw tooLarge(file, limits.maxBytes);
    const bytes = await readFile(abs);
    used += bytes.length;
    if (used > limits.maxBytes) throw tooLarge(file, limits.maxBytes);
    sources.push({ file, text: decodeText(file, bytes) });
  };
  if (paths.filter((p) => p === STDIN).length > 1) {
    throw new UsageError('stdin (-f -) can be given only once', 'apply');
  }
  for (const path of paths) {
    if (path === STDIN) {
      const bytes = await readStdin(io.stdin, limits, used);
      used += bytes.length;
      sources.push({ file: '<stdin>', text: decodeText('<stdin>', bytes) });
      continue;
    }
    const abs = resolve(io.cwd, path);
    try {
      const info = await stat(abs);
      if (info.isDirectory()) {
        const names = (await readdir(abs)).filter((n) => YAML_FILE.test(n)).sort();
        if (names.length === 0) {
          throw new CliError(`${path}: no .yaml or .yml files in this directory`);
        }
        for (const name of names) await readChecked(join(path, name), join(abs, name));
      } else {
        await readChecked(path, abs);
      }
    } catch (err) {
      if (err instanceof CliError) throw err;
      const code = (err as NodeJS.ErrnoException).code;
      const reason = code === 'ENOENT' ? 'no such file or directory' : (err as Error).message;
      throw new CliError(`${path}: cannot read: ${reason}`, { cause: err });
    }
  }
  return sources;
}

function limit(flag: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1) {
    throw new UsageError(
      `${flag} must be a positive integer, got ${JSON.stringify(value)}`,
      'apply',
    );
  }
  return n;
}

export interface PoolFileFlags {
  filename?: string[];
  maxDocuments?: string;
  maxBytes?: string;
}

/** A comma-separated list of a variable; empty or unset: none. */
function listVariable(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item.length > 0);
}

/**
 * The runner network the deployment allows, from RUNNERCTL_RUNNER_SUBNETS and
 * RUNNERCTL_RUNNER_SECURITY_GROUPS (the stack's RunnerSubnetIds / RunnerSecurityGroupId outputs).
 */
export function allowedNetworkFromEnv(env: Record<string, string | undefined>): AllowedNetwork {
  return {
    subnets: listVariable(env.RUNNERCTL_RUNNER_SUBNETS),
    securityGroups: listVariable(env.RUNNERCTL_RUNNER_SECURITY_GROUPS),
  };
}

/** The validated pools of -f arguments, within the per-call limits; `command` for usage errors. */
export async function loadPools(
  ctx: CliContext,
  opts: PoolFileFlags,
  command: string,
): Promise<ValidatedPool[]> {
  const filenames = opts.filename ?? [];
  if (filenames.length === 0) {
    throw new UsageError(`${command} needs -f FILE, -f DIR or -f - (stdin)`, command);
  }
  const maxDocuments = limit('--max-documents', opts.maxDocuments, DEFAULT_MAX_DOCUMENTS);
  const maxBytes = limit('--max-bytes', opts.maxBytes, DEFAULT_MAX_BYTES);
  const sources = await readPoolSources(filenames, ctx.io, { maxBytes });
  const pools = validatePoolSources(sources, ctx.deps.poolSchema ?? defaultPoolSchema(), {
    network: allowedNetworkFromEnv(ctx.io.env),
  });
  if (pools.length === 0) {
    throw new CliError(`no RunnerPool documents in ${filenames.join(', ')}`);
  }
  if (pools.length > maxDocuments) {
    throw new CliError(
      `${pools.length} RunnerPool documents in one ${command}, more than the limit of ${maxDocuments}; ` +
        `nothing was ${command === 'apply' ? 'applied' : 'compared'} (raise it with --max-documents)`,
    );
  }
  return pools;
}

/**
 * The stored records of `names` (undefined where absent), read without creating anything: the
 * default local store that was never used yet holds no pools.
 */
export async function readStoredPools(
  ctx: CliContext,
  flags: StoreFlags,
  names: string[],
  command: string,
): Promise<(PoolRecord | undefined)[]> {
  const where = await ctx.resolveStore(flags, command);
  const { options } = where;
  if (
    options.kind === 'local' &&
    options.createTable &&
    !existsSync(join(options.dataDir, 'dynamodb'))
  ) {
    return names.map(() => undefined);
  }
  const readOnly = { ...where, options: { ...options, createTable: false } };
  return ctx.useStore(readOnly, (store) => Promise.all(names.map((n) => store.getPool(n))));
}

/** A pool being drained cannot be reconfigured: refuse the whole call before writing. */
function refuseDeleting(existing: (PoolRecord | undefined)[]): void {
  const deleting = existing.filter((r) => r?.deletionRequestedAt);
  if (deleting.length === 0) return;
  throw new CliError(
    deleting
      .map(
        (r) =>
          `runnerpool/${r!.name} is being deleted (since ${r!.deletionRequestedAt}): ` +
          'wait until the controller has drained and removed it, then apply again ' +
          `(no controller running? runnerctl delete pool ${r!.name} --force removes it now)`,
      )
      .join('\n'),
  );
}

export function addPoolFileOptions(cmd: Command): Command {
  return cmd
    .option(
      '-f, --filename <path>',
      'file, directory (all *.yaml and *.yml) or - for stdin; repeatable',
      collect,
    )
    .option(
      '--max-documents <n>',
      `refuse more pools than this in one call (default ${DEFAULT_MAX_DOCUMENTS})`,
    )
    .option('--max-bytes <n>', `refuse more input than this in one call (default 1 MiB)`);
}

export function register(program: Command, ctx: CliContext): void {
  const cmd = program
    .command('apply')
    .description('create or update runner pools from YAML (every document is validated first)')
    .option(
      '--dry-run',
      'print what would be created, configured or unchanged against the store; write nothing',
    )
    .option(
      '-c, --config <file>',
      "the controller's settings (default: RUNNERCTL_CONFIG): with GitHub credentials, warn about runner groups that allow public repositories",
    );
  addStoreOptions(addPoolFileOptions(cmd)).action(
    async (opts: StoreFlags & PoolFileFlags & { dryRun?: boolean; config?: string }) => {
      const pools = await loadPools(ctx, opts, 'apply');
      await warnAboutRunnerGroups(
        ctx,
        pools.map((p) => p.pool),
        opts.config,
      );
      const names = pools.map((p) => p.pool.metadata.name);
      if (opts.dryRun) {
        // Server-side, as kubectl's: the answer is the store's, nothing is written.
        const existing = await readStoredPools(ctx, opts, names, 'apply');
        refuseDeleting(existing);
        pools.forEach(({ pool }, i) =>
          ctx.out(
            `runnerpool/${pool.metadata.name} ${applyResultFor(existing[i], pool)} (dry run)`,
          ),
        );
        return;
      }
      await ctx.withStore(opts, async (store) => {
        refuseDeleting(await Promise.all(names.map((n) => store.getPool(n))));
        for (const { pool } of pools) {
          const { result } = await store.applyPool(pool);
          ctx.out(`runnerpool/${pool.metadata.name} ${result}`);
        }
      });
    },
  );
}

/**
 * With GitHub credentials (the controller's settings file), warns on stderr about pools whose
 * runner group allows public repositories. Without them it says nothing: apply works offline.
 */
async function warnAboutRunnerGroups(
  ctx: CliContext,
  pools: RunnerPool[],
  config: string | undefined,
): Promise<void> {
  const file = config ?? ctx.io.env.RUNNERCTL_CONFIG;
  if (!file) return;
  const { openConfigWorld } = await import('../../drift/connect.ts');
  let world: Awaited<ReturnType<typeof openConfigWorld>>;
  try {
    world = await openConfigWorld({
      file: resolve(ctx.io.cwd, file),
      env: ctx.io.env,
      clock: ctx.deps.clock,
    });
  } catch (err) {
    ctx.err(`warning: runner groups not checked: ${(err as Error).message}`);
    return;
  }
  try {
    for (const line of await publicRunnerGroupWarnings(pools, world.github)) ctx.err(line);
  } finally {
    await world.close();
  }
}
