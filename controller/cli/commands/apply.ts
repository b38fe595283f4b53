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

async function readStdin(stdin: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stdin) {
    chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Reads each -f argument: a file, every *.yaml / *.yml of a directory (sorted), or stdin. */
export async function readPoolSources(paths: readonly string[], io: CliIo): Promise<PoolSource[]> {
  const sources: PoolSource[] = [];
  if (paths.filter((p) => p === STDIN).length > 1) {
    throw new UsageError('stdin (-f -) can be given only once', 'apply');
  }
  for (const path of paths) {
    if (path === STDIN) {
      sources.push({ file: '<stdin>', text: await readStdin(io.stdin) });
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
        for (const name of names) {
          sources.push({ file: join(path, name), text: await readFile(join(abs, name), 'utf8') });
        }
      } else {
        sources.push({ file: path, text: await readFile(abs, 'utf8') });
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

export function register(program: Command, ctx: CliContext): void {
  const cmd = program
    .command('apply')
    .description('create or update runner pools from YAML (every document is validated first)')
    .option(
      '-f, --filename <path>',
      'file, directory (all *.yaml and *.yml) or - for stdin; repeatable',
      collect,
    )
    .option('--dry-run', 'validate only: print what would be applied, touch no store');
  addStoreOptions(cmd).action(
    async (opts: StoreFlags & { filename?: string[]; dryRun?: boolean }) => {
      const filenames = opts.filename ?? [];
      if (filenames.length === 0) {
        throw new UsageError('apply needs -f FILE, -f DIR or -f - (stdin)', 'apply');
      }
      const sources = await readPoolSources(filenames, ctx.io);
      const pools = validatePoolSources(sources, ctx.deps.poolSchema ?? defaultPoolSchema());
      if (pools.length === 0) {
        throw new CliError(`no RunnerPool documents in ${filenames.join(', ')}`);
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
                  'wait until the controller has drained and removed it, then apply again',
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
