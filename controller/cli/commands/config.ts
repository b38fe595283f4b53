// `runnerctl config current-context|use-context|get-contexts|set-context` (contexts, as
// kubeconfig) and `runnerctl init` (the one way, besides the sandbox and the default local
// store, that a table is created).

import type { Command } from 'commander';
import {
  LOCAL_CONTEXT,
  SANDBOX_CONTEXT,
  checkEndpoint,
  contextsFilePath,
  readContexts,
  resolveStore,
  writeContexts,
} from '../contexts.ts';
import { addStoreOptions, type CliContext, type StoreFlags } from '../context.ts';
import { CliError, UsageError } from '../errors.ts';
import { renderTable } from '../format.ts';

const BUILT_IN = [SANDBOX_CONTEXT, LOCAL_CONTEXT];
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

export function register(program: Command, ctx: CliContext): void {
  const config = program
    .command('config')
    .description('contexts: which store commands use when no store flag is given');

  config
    .command('current-context')
    .description(
      'print the context commands use now (set, or found: sandbox if running, else local)',
    )
    .action(async () => {
      const where = await resolveStore({}, ctx.io, 'config current-context');
      ctx.out(where.context);
    });

  config
    .command('get-contexts')
    .description('list the contexts; * marks the current one')
    .action(async () => {
      const file = await readContexts(ctx.io);
      const current =
        file.currentContext ??
        (await resolveStore({}, ctx.io, 'config').catch(() => undefined))?.context;
      const rows = [
        ['CURRENT', 'NAME', 'STORE'],
        [
          current === SANDBOX_CONTEXT ? '*' : '',
          SANDBOX_CONTEXT,
          'the running sandbox (.runnerctl/sandbox/sandbox.json)',
        ],
        [current === LOCAL_CONTEXT ? '*' : '', LOCAL_CONTEXT, 'embedded local store in .runnerctl'],
        ...Object.entries(file.contexts)
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([name, c]) => [
            current === name ? '*' : '',
            name,
            `DynamoDB table ${c.table}${c.region ? ` in ${c.region}` : ''}${c.endpoint ? ` at ${c.endpoint}` : ''}`,
          ]),
      ];
      ctx.out(renderTable(rows));
    });

  config
    .command('use-context')
    .description('make NAME the current context (sandbox, local, or one set with set-context)')
    .argument('<name>', 'context name')
    .action(async (name: string) => {
      const file = await readContexts(ctx.io);
      if (!BUILT_IN.includes(name) && !file.contexts[name]) {
        throw new CliError(
          `no context "${name}" (known: ${[...BUILT_IN, ...Object.keys(file.contexts)].join(', ')}); ` +
            `define it with: runnerctl config set-context ${name} --table TABLE --region REGION`,
        );
      }
      const path = await writeContexts(ctx.io, { ...file, currentContext: name });
      ctx.out(`Switched to context "${name}" (${path}).`);
    });

  config
    .command('set-context')
    .description('define or change a DynamoDB context: a table, its region and endpoint')
    .argument('<name>', 'context name')
    .option('--table <name>', 'DynamoDB table (required for a new context)')
    .option('--region <region>', 'AWS region of the table')
    .option('--endpoint <url>', 'DynamoDB endpoint, e.g. DynamoDB Local')
    .action(async (name: string, opts: { table?: string; region?: string; endpoint?: string }) => {
      if (BUILT_IN.includes(name)) {
        throw new UsageError(
          `"${name}" is a built-in context and cannot be changed`,
          'config set-context',
        );
      }
      if (!NAME.test(name)) {
        throw new UsageError(
          `context name ${JSON.stringify(name)} must be 1-63 letters, digits, . _ -`,
          'config set-context',
        );
      }
      if (opts.endpoint) checkEndpoint(opts.endpoint, 'config set-context');
      const file = await readContexts(ctx.io);
      const before = file.contexts[name];
      const table = opts.table ?? before?.table;
      if (!table) throw new UsageError('a new context needs --table NAME', 'config set-context');
      const entry = {
        table,
        ...((opts.region ?? before?.region) ? { region: opts.region ?? before?.region } : {}),
        ...((opts.endpoint ?? before?.endpoint)
          ? { endpoint: opts.endpoint ?? before?.endpoint }
          : {}),
      };
      await writeContexts(ctx.io, { ...file, contexts: { ...file.contexts, [name]: entry } });
      ctx.out(
        `Context "${name}" ${before ? 'modified' : 'created'} in ${contextsFilePath(ctx.io)}.`,
      );
    });

  const init = program
    .command('init')
    .description('create the table (keys, index, TTL) of the store the flags or context select');
  addStoreOptions(init).action(async (flags: StoreFlags) => {
    const where = await ctx.resolveStore({ ...flags, init: true }, 'init');
    const options = { ...where.options, createTable: true, requireTable: false };
    await ctx.useStore({ ...where, options }, async () => {});
    ctx.out(`table "${options.table ?? 'runnerctl'}" ready (${where.describe})`);
  });
}
