// `get -w/--watch`: after the table, poll the store and print one line per change (a new or
// changed object's row, in the table's columns without the header; `KIND/NAME removed` for one
// that is gone), until the command is interrupted (SIGINT: ctx.deps.signal).

import { Option } from 'commander';
import { InvalidArgumentError } from 'commander';
import { parseDuration } from '../api/duration.ts';
import type { CliContext } from './context.ts';
import { UsageError } from './errors.ts';
import type { OutputFormat } from './output.ts';

export const DEFAULT_POLL_INTERVAL = '2s';

export interface WatchFlags {
  watch?: boolean;
  pollInterval?: number;
}

export interface WatchSpec<T> {
  list(): Promise<T[]>;
  name(item: T): string;
  /** Changes whenever the object does (its version): a row is printed when it moves. */
  version(item: T): string | number;
  /** One line per item, in order, without the header (the table's, or `-o name`'s). */
  lines(items: T[]): string[];
  kind: string;
}

export function addWatchOptions<C extends { addOption(o: Option): C }>(cmd: C): C {
  return cmd
    .addOption(new Option('-w, --watch', 'after listing, print a line per change until Ctrl-C'))
    .addOption(
      new Option('--poll-interval <duration>', 'how often --watch reads the store (e.g. 500ms, 2s)')
        .default(parseInterval(DEFAULT_POLL_INTERVAL), DEFAULT_POLL_INTERVAL)
        .argParser(parseInterval),
    );
}

function parseInterval(text: string): number {
  const ms = /^(\d+)ms$/.exec(text);
  const value = ms ? Number(ms[1]) : safeDuration(text);
  if (!Number.isFinite(value) || value < 100) {
    throw new InvalidArgumentError(`expected a duration of at least 100ms (500ms, 2s, 1m)`);
  }
  return value;
}

function safeDuration(text: string): number {
  try {
    return parseDuration(text);
  } catch {
    return NaN;
  }
}

/** -w prints rows: only the table formats and -o name can be watched. */
export function checkWatchable(flags: WatchFlags, output: OutputFormat | undefined, cmd: string) {
  if (flags.watch && output && output.kind !== 'wide' && output.kind !== 'name') {
    throw new UsageError(`--watch prints table rows: use it with no -o, -o wide or -o name`, cmd);
  }
}

/** Polls until the signal fires; `first` is what the table already showed. */
export async function watchChanges<T>(
  ctx: CliContext,
  spec: WatchSpec<T>,
  first: T[],
  intervalMs: number,
): Promise<void> {
  const signal = ctx.deps.signal;
  const seen = new Map(first.map((item) => [spec.name(item), spec.version(item)]));
  while (!signal?.aborted) {
    await ctx.deps.clock.sleep(intervalMs, signal).catch(() => {});
    if (signal?.aborted) break;
    const items = await spec.list();
    const lines = spec.lines(items);
    const now = new Set<string>();
    items.forEach((item, i) => {
      const name = spec.name(item);
      now.add(name);
      if (seen.get(name) !== spec.version(item)) ctx.out(lines[i]!);
      seen.set(name, spec.version(item));
    });
    for (const name of [...seen.keys()]) {
      if (now.has(name)) continue;
      seen.delete(name);
      ctx.out(`${spec.kind}/${name} removed`);
    }
  }
}
