// `runnerctl apply -f FILE|DIR|-`: validates every document first, writes only when all are valid.

import { readdir, readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { validatePoolSources, type PoolSource } from '../../api/validate.ts';
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

export function register(program: Command, ctx: CliContext): void {
  const cmd = program
    .command('apply')
    .description('create or update runner pools from YAML (every document is validated first)')
    .option(
      '-f, --filename <path>',
      'file, directory (all *.yaml and *.yml) or - for stdin; repeatable',
      collect,
    )
    .option('--dry-run', 'validate only: print what would be applied, touch no store')
    .option(
      '--max-documents <n>',
      `refuse more pools than this in one call (default ${DEFAULT_MAX_DOCUMENTS})`,
    )
    .option('--max-bytes <n>', `refuse more input than this in one call (default 1 MiB)`);
  addStoreOptions(cmd).action(
    async (
      opts: StoreFlags & {
        filename?: string[];
        dryRun?: boolean;
        maxDocuments?: string;
        maxBytes?: string;
      },
    ) => {
      const filenames = opts.filename ?? [];
      if (filenames.length === 0) {
        throw new UsageError('apply needs -f FILE, -f DIR or -f - (stdin)', 'apply');
      }
      const maxDocuments = limit('--max-documents', opts.maxDocuments, DEFAULT_MAX_DOCUMENTS);
      const maxBytes = limit('--max-bytes', opts.maxBytes, DEFAULT_MAX_BYTES);
      const sources = await readPoolSources(filenames, ctx.io, { maxBytes });
      const pools = validatePoolSources(sources, ctx.deps.poolSchema ?? defaultPoolSchema());
      if (pools.length === 0) {
        throw new CliError(`no RunnerPool documents in ${filenames.join(', ')}`);
      }
      if (pools.length > maxDocuments) {
        throw new CliError(
          `${pools.length} RunnerPool documents in one apply, more than the limit of ${maxDocuments}; ` +
            'nothing was applied (raise it with --max-documents)',
        );
      }
      if (opts.dryRun) {
        for (const { pool } of pools) ctx.out(`runnerpool/${pool.metadata.name} valid (dry run)`);
        return;
      }
      await ctx.withStore(opts, async (store) => {
        // Refuse before writing anything: a pool being drained cannot be reconfigured.
        const existing = await Promise.all(pools.map((p) => store.getPool(p.pool.metadata.name)));
        const deleting = existing.filter((r) => r?.deletionRequestedAt);
        if (deleting.length > 0) {
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
        for (const { pool } of pools) {
          const { result } = await store.applyPool(pool);
          ctx.out(`runnerpool/${pool.metadata.name} ${result}`);
        }
      });
    },
  );
}
