// What every command gets: the process's streams and environment (injected so the CLI runs
// in-process in tests), the store factory, the clock, and the shared store flags.

import { resolve } from 'node:path';
import { Option, type Command } from 'commander';
import type { StoreOptions } from '../store/factory.ts';
import type { Store } from '../store/types.ts';
import { systemClock, type Clock } from '../util/clock.ts';
import type { PoolSchema } from '../api/schema.ts';
import { TableMissingError } from '../store/errors.ts';
import { CliError } from './errors.ts';
import {
  DEFAULT_DATA_DIR,
  DEFAULT_TABLE,
  LOCAL_CONTEXT,
  resolveStore,
  type ResolvedStore,
} from './contexts.ts';

export interface TextOutput {
  write(chunk: string): unknown;
}

export interface CliIo {
  stdout: TextOutput;
  stderr: TextOutput;
  stdin: NodeJS.ReadableStream;
  env: Record<string, string | undefined>;
  cwd: string;
}

export interface CliDeps {
  openStore(opts: StoreOptions): Promise<Store>;
  clock: Clock;
  /** Pool schema to validate against; default crds/runnerpool.yaml of this checkout. */
  poolSchema?: PoolSchema;
  /** Ends long-running commands (`get -w`): main.ts aborts it on SIGINT. */
  signal?: AbortSignal;
}

/** The flags `addStoreOptions` adds, as commander parses them. */
export interface StoreFlags {
  verbose?: boolean;
  store?: string;
  dataDir?: string;
  table?: string;
  region?: string;
  endpoint?: string;
  init?: boolean;
}

export interface CliContext {
  io: CliIo;
  deps: CliDeps;
  out(line: string): void;
  err(line: string): void;
  /**
   * Opens the store the flags (else the context) select, runs `fn`, and always closes the
   * store. `command` names the command in usage errors.
   */
  withStore<T>(
    flags: StoreFlags,
    fn: (store: Store, where: ResolvedStore) => Promise<T>,
    command?: string,
  ): Promise<T>;
  /** Where the flags (else the context) point, after printing the context note. */
  resolveStore(flags: StoreFlags, command?: string): Promise<ResolvedStore>;
  /** Opens the store `where` names, runs `fn`, and always closes the store. */
  useStore<T>(
    where: ResolvedStore,
    fn: (store: Store, where: ResolvedStore) => Promise<T>,
  ): Promise<T>;
}

export { DEFAULT_DATA_DIR, DEFAULT_TABLE };

/** Adds the flags of every command that touches state. */
export function addStoreOptions(cmd: Command): Command {
  return cmd
    .option('-v, --verbose', 'say which context and store the command uses')
    .addOption(
      new Option(
        '--store <kind>',
        'state store: the embedded local engine or DynamoDB (default: RUNNERCTL_STORE, else the current context)',
      ).choices(['local', 'dynamodb']),
    )
    .option(
      '--data-dir <dir>',
      `local store directory (default: RUNNERCTL_DATA_DIR or ${DEFAULT_DATA_DIR})`,
    )
    .option('--table <name>', `DynamoDB table (default: RUNNERCTL_TABLE or ${DEFAULT_TABLE})`)
    .option('--region <region>', 'AWS region of the table (default: the AWS SDK region chain)')
    .option(
      '--endpoint <url>',
      'DynamoDB endpoint, e.g. DynamoDB Local (default: RUNNERCTL_DYNAMODB_ENDPOINT)',
    );
}

/** Resolves flags, then environment, then defaults into store options. */
export function storeOptionsFrom(flags: StoreFlags, io: CliIo): StoreOptions {
  const kind = flags.store ?? io.env.RUNNERCTL_STORE ?? 'local';
  if (kind === 'local') {
    const dataDir = flags.dataDir ?? io.env.RUNNERCTL_DATA_DIR ?? DEFAULT_DATA_DIR;
    return { kind: 'local', dataDir: resolve(io.cwd, dataDir) };
  }
  if (kind === 'dynamodb') {
    const endpoint = flags.endpoint ?? io.env.RUNNERCTL_DYNAMODB_ENDPOINT;
    return {
      kind: 'dynamodb',
      table: flags.table ?? io.env.RUNNERCTL_TABLE ?? DEFAULT_TABLE,
      ...(flags.region ? { region: flags.region } : {}),
      ...(endpoint ? { endpoint } : {}),
    };
  }
  throw new Error(`RUNNERCTL_STORE must be local or dynamodb, got ${JSON.stringify(kind)}`);
}

// Loaded on first use: `--help` and `apply --dry-run` never pay for the AWS SDK.
async function openRealStore(opts: StoreOptions): Promise<Store> {
  const { openStore } = await import('../store/factory.ts');
  return openStore(opts);
}

/** The AWS SDK's bare "Region is missing", anywhere in the cause chain. */
function isRegionMissing(err: unknown): boolean {
  for (let e = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (/Region is missing/.test(e.message)) return true;
  }
  return false;
}

/** "Region is missing" becomes where to set one: the flag, the environment, or the context. */
function regionHint(err: unknown, where: ResolvedStore): unknown {
  if (!isRegionMissing(err) || where.options.kind !== 'dynamodb') return err;
  const named = where.context !== 'flags' && where.context !== LOCAL_CONTEXT;
  const contextHow = named
    ? `or the context's region (runnerctl config set-context ${where.context} --region REGION)`
    : 'or a context with a region (runnerctl config set-context NAME --table TABLE --region REGION)';
  return new CliError(
    `no AWS region for DynamoDB table "${where.options.table ?? DEFAULT_TABLE}" ` +
      `(context "${where.context}": ${where.describe}): set --region, AWS_REGION, ${contextHow}`,
    { cause: err },
  );
}

export function createContext(io: CliIo, deps: Partial<CliDeps> = {}): CliContext {
  const full: CliDeps = { openStore: openRealStore, clock: systemClock, ...deps };
  return {
    io,
    deps: full,
    out: (line) => io.stdout.write(`${line}\n`),
    err: (line) => io.stderr.write(`${line}\n`),
    async resolveStore(flags, command = 'runnerctl') {
      const where = await resolveStore(flags, io, command);
      if (flags.verbose) {
        io.stderr.write(`using context "${where.context}": ${where.describe}\n`);
      } else if (where.context !== LOCAL_CONTEXT && where.context !== 'flags') {
        // Not the default: say so in one line, as the result may surprise.
        io.stderr.write(`(context "${where.context}": ${where.describe})\n`);
      }
      return where;
    },
    async withStore(flags, fn, command) {
      return this.useStore(await this.resolveStore(flags, command), fn);
    },
    async useStore(where, fn) {
      let store: Store;
      try {
        store = await full.openStore({ ...where.options, clock: full.clock });
      } catch (err) {
        if (err instanceof TableMissingError) {
          const how =
            where.options.kind === 'local'
              ? `runnerctl init --data-dir ${where.options.dataDir}`
              : `runnerctl init --table ${err.table}`;
          throw new CliError(
            `table "${err.table}" does not exist (context "${where.context}": ${where.describe}); ` +
              `create it with: ${how}`,
            { cause: err },
          );
        }
        throw regionHint(err, where);
      }
      try {
        return await fn(store, where);
      } catch (err) {
        throw regionHint(err, where);
      } finally {
        await store.close();
      }
    },
  };
}
