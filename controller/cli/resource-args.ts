// kubectl's `TYPE/NAME` arguments: `get runnerpool/good`, `describe runner/rctl-x`,
// `delete rp/a rp/b` become `get pools good`, ... before commander parses the line. Also
// `delete -f FILE` (no type) is `delete pool -f FILE`: only pools can be applied and deleted.

import { UsageError } from './errors.ts';

const VERBS = new Set(['get', 'describe', 'delete']);

/** Every name a resource type answers to, to the subcommand name used after rewriting. */
export const RESOURCE_TYPES: Record<string, string> = {
  pool: 'pool',
  pools: 'pool',
  runnerpool: 'pool',
  runnerpools: 'pool',
  rp: 'pool',
  runner: 'runner',
  runners: 'runner',
  job: 'job',
  jobs: 'job',
};

/** Flags of get/describe/delete that take no value; every other flag takes the next word. */
const BOOLEAN_FLAGS = new Set([
  '-v',
  '--verbose',
  '--no-headers',
  '--force',
  '--dry-run',
  '-w',
  '--watch',
  '-h',
  '--help',
]);

function takesValue(token: string): boolean {
  if (token.startsWith('--')) return !token.includes('=') && !BOOLEAN_FLAGS.has(token);
  // `-oyaml`: a short flag with its value attached.
  return token.length === 2 && !BOOLEAN_FLAGS.has(token);
}

export function normalizeResourceArgs(argv: readonly string[]): string[] {
  const verb = argv[0];
  if (!verb || !VERBS.has(verb)) return [...argv];
  const positionals: string[] = [];
  const rest: string[] = [];
  let hasFile = false;
  for (let i = 1; i < argv.length; i++) {
    const token = argv[i]!;
    if (token === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (token.startsWith('-') && token !== '-') {
      if (token === '-f' || token === '--filename' || token.startsWith('--filename=')) {
        hasFile = true;
      }
      rest.push(token);
      if (takesValue(token) && i + 1 < argv.length) rest.push(argv[++i]!);
      continue;
    }
    positionals.push(token);
  }
  const slashed = positionals.filter((p) => RESOURCE_TYPES[p.split('/')[0]!] && p.includes('/'));
  if (slashed.length === 0) {
    if (verb === 'delete' && positionals.length === 0 && hasFile)
      return ['delete', 'pool', ...rest];
    return [...argv];
  }
  if (slashed.length !== positionals.length) {
    const first = positionals.find((p) => !slashed.includes(p))!;
    throw new UsageError(
      `${JSON.stringify(first)}: give every resource as TYPE/NAME, or the type once then names ` +
        `(runnerctl ${verb} pools a b), not both`,
      verb,
    );
  }
  const kinds = new Set<string>();
  const names: string[] = [];
  for (const arg of slashed) {
    const slash = arg.indexOf('/');
    const name = arg.slice(slash + 1);
    if (!name || name.includes('/')) {
      throw new UsageError(
        `${JSON.stringify(arg)}: expected TYPE/NAME, e.g. runnerpool/linux`,
        verb,
      );
    }
    kinds.add(RESOURCE_TYPES[arg.slice(0, slash)]!);
    names.push(name);
  }
  if (kinds.size > 1) {
    throw new UsageError(
      `one resource type at a time: got ${[...kinds].join(' and ')} (${slashed.join(' ')})`,
      verb,
    );
  }
  return [verb, [...kinds][0]!, ...names, ...rest];
}
