// Contexts, as kubeconfig has them: which store a command talks to when no store flag says so.
// Two are built in: `sandbox` (the DynamoDB engine of the sandbox `npm start` runs, found by its
// sandbox.json) and `local` (the embedded store in the default data directory). Others name a
// DynamoDB table, region and endpoint. The current one is kept in a small YAML file:
// $RUNNERCTL_CONTEXTS, else contexts.yaml in the data directory (.runnerctl).

import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { parseDocument, stringify } from 'yaml';
import type { StoreOptions } from '../store/factory.ts';
import { CliError, UsageError } from './errors.ts';

export const DEFAULT_DATA_DIR = '.runnerctl';
export const DEFAULT_TABLE = 'runnerctl';
export const SANDBOX_DIR = '.runnerctl/sandbox';
export const SANDBOX_CONTEXT = 'sandbox';
export const LOCAL_CONTEXT = 'local';
export const CONTEXTS_FILE = 'contexts.yaml';

export interface NamedContext {
  table: string;
  region?: string;
  endpoint?: string;
}

export interface ContextsFile {
  currentContext?: string;
  contexts: Record<string, NamedContext>;
}

interface Env {
  env: Record<string, string | undefined>;
  cwd: string;
}

export function contextsFilePath(io: Env): string {
  const explicit = io.env.RUNNERCTL_CONTEXTS;
  if (explicit) return resolve(io.cwd, explicit);
  return join(resolve(io.cwd, io.env.RUNNERCTL_DATA_DIR ?? DEFAULT_DATA_DIR), CONTEXTS_FILE);
}

export async function readContexts(io: Env): Promise<ContextsFile> {
  const file = contextsFilePath(io);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { contexts: {} };
    throw new CliError(`cannot read ${file}: ${(err as Error).message}`, { cause: err });
  }
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const at = e.linePos?.[0] ? `${e.linePos[0].line}:${e.linePos[0].col}` : '';
    throw new CliError(`${file}${at ? `:${at}` : ''}: ${e.message.split('\n')[0]}`);
  }
  const value = (doc.toJS() ?? {}) as Partial<ContextsFile>;
  const contexts = value.contexts ?? {};
  for (const [name, c] of Object.entries(contexts)) {
    if (!c || typeof c.table !== 'string') {
      throw new CliError(`${file}: contexts.${name}.table must be a table name`);
    }
  }
  return {
    ...(typeof value.currentContext === 'string' ? { currentContext: value.currentContext } : {}),
    contexts,
  };
}

export async function writeContexts(io: Env, file: ContextsFile): Promise<string> {
  const path = contextsFilePath(io);
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await writeFile(path, stringify(file), { mode: 0o600 });
  return path;
}

/** A usage error unless `value` is an http(s) URL. */
export function checkEndpoint(value: string, command: string): string {
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new UsageError(
      `--endpoint must be an http:// or https:// URL, got ${JSON.stringify(value)}`,
      command,
    );
  }
  return value;
}

/** The parts of sandbox.json a context needs. */
interface SandboxInfo {
  pid: number;
  dynamodb: { endpoint: string; region: string; table: string };
  aws: { accessKeyId: string; secretAccessKey: string };
}

/** sandbox.json of `dir` when its process is alive; `dead` when it is there but stopped. */
export async function liveSandbox(dir: string): Promise<SandboxInfo | 'dead' | undefined> {
  const { readSandboxInfo, sandboxAlive } = await import('../drift/connect.ts');
  const info = (await readSandboxInfo(dir).catch(() => undefined)) as SandboxInfo | undefined;
  if (!info) return undefined;
  return sandboxAlive(info) ? info : 'dead';
}

/** Where a command's store is, and how to say so. */
export interface ResolvedStore {
  options: StoreOptions;
  /** Context name, or `flags` when store flags or RUNNERCTL_STORE/_DATA_DIR chose the store. */
  context: string;
  /** One line: what the context points at. */
  describe: string;
  /** A running sandbox's data directory, when the store is that sandbox's. */
  sandboxDir?: string;
}

export interface StoreSelection {
  store?: string;
  dataDir?: string;
  table?: string;
  region?: string;
  endpoint?: string;
  /** `runnerctl init`: the store is about to be created, do not require it. */
  init?: boolean;
}

const at = (cwd: string, path: string) => relative(cwd, path) || '.';

function sandboxStore(info: SandboxInfo, dir: string, name: string, cwd: string, table?: string) {
  const t = table ?? info.dynamodb.table;
  return {
    options: {
      kind: 'dynamodb' as const,
      endpoint: info.dynamodb.endpoint,
      region: info.dynamodb.region,
      table: t,
      credentials: {
        accessKeyId: info.aws.accessKeyId,
        secretAccessKey: info.aws.secretAccessKey,
      },
      // The sandbox made its table; a reader never makes one.
      createTable: false,
      requireTable: true,
    },
    context: name,
    describe: `sandbox in ${at(cwd, dir)}: table ${t} at ${info.dynamodb.endpoint}`,
    sandboxDir: dir,
  };
}

/**
 * Flags win, then RUNNERCTL_STORE / RUNNERCTL_DATA_DIR / RUNNERCTL_DYNAMODB_ENDPOINT, then the
 * current context, then: the sandbox when one is running in .runnerctl/sandbox, else local.
 * Only the local store in the default data directory creates its table on first use.
 */
export async function resolveStore(
  flags: StoreSelection,
  io: Env,
  command: string,
): Promise<ResolvedStore> {
  const { env, cwd } = io;
  if (flags.endpoint) checkEndpoint(flags.endpoint, command);
  const explicit =
    flags.store ??
    (flags.endpoint ? 'dynamodb' : undefined) ??
    (flags.dataDir ? 'local' : undefined) ??
    env.RUNNERCTL_STORE ??
    (env.RUNNERCTL_DYNAMODB_ENDPOINT ? 'dynamodb' : undefined) ??
    (env.RUNNERCTL_DATA_DIR ? 'local' : undefined);
  if (explicit === 'local') {
    const dir = resolve(cwd, flags.dataDir ?? env.RUNNERCTL_DATA_DIR ?? DEFAULT_DATA_DIR);
    // A running sandbox holds its directory: talk to its engine instead of taking the lock.
    const sandbox = await liveSandbox(dir);
    if (sandbox && sandbox !== 'dead') {
      return sandboxStore(sandbox, dir, 'flags', cwd, flags.table);
    }
    const table = flags.table ?? env.RUNNERCTL_TABLE ?? DEFAULT_TABLE;
    // --data-dir names a store that must exist; the default directory is made on first use.
    const create = !flags.dataDir;
    if (!create && !flags.init && !existsSync(join(dir, 'dynamodb'))) {
      throw new CliError(
        `table "${table}" does not exist: no local store in ${at(cwd, dir)} (--data-dir); ` +
          `create it with: runnerctl init --data-dir ${flags.dataDir}`,
      );
    }
    return {
      options: { kind: 'local', dataDir: dir, table, createTable: create },
      context: 'flags',
      describe: `local store in ${at(cwd, dir)}: table ${table}`,
    };
  }
  if (explicit === 'dynamodb') {
    const endpoint = flags.endpoint ?? env.RUNNERCTL_DYNAMODB_ENDPOINT;
    if (endpoint) checkEndpoint(endpoint, command);
    const table = flags.table ?? env.RUNNERCTL_TABLE ?? DEFAULT_TABLE;
    return {
      options: {
        kind: 'dynamodb',
        table,
        ...(flags.region ? { region: flags.region } : {}),
        ...(endpoint ? { endpoint } : {}),
        createTable: false,
        requireTable: true,
      },
      context: 'flags',
      describe: `DynamoDB table ${table}${flags.region ? ` in ${flags.region}` : ''}${endpoint ? ` at ${endpoint}` : ''}`,
    };
  }
  if (explicit !== undefined) {
    throw new CliError(
      `RUNNERCTL_STORE must be local or dynamodb, got ${JSON.stringify(explicit)}`,
    );
  }

  const file = await readContexts(io);
  const sandboxDir = resolve(cwd, SANDBOX_DIR);
  let name = file.currentContext;
  if (!name) {
    const sandbox = await liveSandbox(sandboxDir);
    name = sandbox && sandbox !== 'dead' ? SANDBOX_CONTEXT : LOCAL_CONTEXT;
  }
  if (name === SANDBOX_CONTEXT) {
    const sandbox = await liveSandbox(sandboxDir);
    if (!sandbox || sandbox === 'dead') {
      throw new CliError(
        `context "sandbox": no sandbox is running in ${at(cwd, sandboxDir)} ` +
          `(start one with npm start, or run: runnerctl config use-context local)`,
      );
    }
    return sandboxStore(sandbox, sandboxDir, name, cwd, flags.table);
  }
  if (name === LOCAL_CONTEXT) {
    const dir = resolve(cwd, DEFAULT_DATA_DIR);
    const table = flags.table ?? DEFAULT_TABLE;
    return {
      options: { kind: 'local', dataDir: dir, table, createTable: !flags.table },
      context: name,
      describe: `local store in ${at(cwd, dir)}: table ${table}`,
    };
  }
  const named = file.contexts[name];
  if (!named) {
    throw new CliError(
      `current context "${name}" is not defined in ${contextsFilePath(io)} ` +
        '(see runnerctl config get-contexts)',
    );
  }
  const table = flags.table ?? named.table;
  const region = flags.region ?? named.region;
  return {
    options: {
      kind: 'dynamodb',
      table,
      ...(region ? { region } : {}),
      ...(named.endpoint ? { endpoint: named.endpoint } : {}),
      createTable: false,
      requireTable: true,
    },
    context: name,
    describe: `DynamoDB table ${table}${region ? ` in ${region}` : ''}${named.endpoint ? ` at ${named.endpoint}` : ''}`,
  };
}
