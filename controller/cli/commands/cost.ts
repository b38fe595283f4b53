// `runnerctl cost --since 7d [--by pool|repository|workflow] [-o json]`: what finished runners
// cost, summed from the cost each runner record got when it finished (controller/cost). An
// estimate: see "Cost" in docs/operations.md for what it counts and what it does not.

import { Option, type Command } from 'commander';
import { formatUsd } from '../../cost/compute.ts';
import type { RunnerRecord } from '../../store/types.ts';
import { addStoreOptions, type CliContext } from '../context.ts';
import { UsageError } from '../errors.ts';
import { renderTable } from '../format.ts';
import { withViewStore, type ViewFlags } from './runners.ts';

interface CostFlags extends Omit<ViewFlags, 'output'> {
  since: string;
  by: 'pool' | 'repository' | 'workflow';
  output?: 'json';
}

const UNITS: Record<string, number> = { d: 86_400_000, h: 3_600_000, m: 60_000 };

/** `7d`, `24h`, `90m`: how far back to look. */
export function parseSince(text: string): number {
  const m = /^(\d+)([dhm])$/.exec(text.trim());
  if (!m || Number(m[1]) <= 0) {
    throw new UsageError(
      `--since must look like 7d, 24h or 90m, got ${JSON.stringify(text)}`,
      'cost',
    );
  }
  return Number(m[1]) * UNITS[m[2]!]!;
}

export interface CostRow {
  key: string;
  runners: number;
  jobs: number;
  billedSeconds: number;
  usd: number;
}

export interface CostReport {
  since: string;
  by: CostFlags['by'];
  rows: CostRow[];
  total: CostRow;
  /** Finished runners in the window without a cost (no task, or no price for their region). */
  withoutCost: number;
}

/** Sums the costs of runner records finished at or after `sinceMs`. Pure. */
export function costReport(
  records: RunnerRecord[],
  sinceMs: number,
  by: CostFlags['by'],
): CostReport {
  const rows = new Map<string, CostRow>();
  const total: CostRow = { key: 'TOTAL', runners: 0, jobs: 0, billedSeconds: 0, usd: 0 };
  let withoutCost = 0;
  for (const r of records) {
    if (r.state !== 'finished') continue;
    const at = Date.parse(r.cost?.at ?? r.updatedAt);
    if (at < sinceMs) continue;
    if (!r.cost) {
      withoutCost++;
      continue;
    }
    const c = r.cost;
    const key =
      by === 'pool' ? r.pool : by === 'repository' ? (c.repository ?? '-') : (c.workflow ?? '-');
    const row = rows.get(key) ?? { key, runners: 0, jobs: 0, billedSeconds: 0, usd: 0 };
    for (const x of [row, total]) {
      x.runners++;
      if (c.jobId !== undefined) x.jobs++;
      x.billedSeconds += c.billedSeconds;
      x.usd += c.usd;
    }
    rows.set(key, row);
  }
  const round = (row: CostRow) => ({ ...row, usd: Math.round(row.usd * 1e6) / 1e6 });
  return {
    since: new Date(sinceMs).toISOString(),
    by,
    rows: [...rows.values()].sort((a, b) => b.usd - a.usd || a.key.localeCompare(b.key)).map(round),
    total: round(total),
    withoutCost,
  };
}

function hours(seconds: number): string {
  return (seconds / 3600).toFixed(2);
}

export function costTable(report: CostReport): string {
  const header = [report.by.toUpperCase(), 'RUNNERS', 'JOBS', 'TASK-HOURS', 'USD'];
  const line = (r: CostRow) => [
    r.key,
    String(r.runners),
    String(r.jobs),
    hours(r.billedSeconds),
    formatUsd(r.usd),
  ];
  return renderTable([header, ...report.rows.map(line), line(report.total)]);
}

export function register(program: Command, ctx: CliContext): void {
  const cmd = program
    .command('cost')
    .description(
      'estimated cost of finished runners (task size x billed time x price table), summed by pool, repository or workflow',
    )
    .option('--since <age>', 'finished within this long (7d, 24h, 90m)', '7d')
    .addOption(
      new Option('--by <key>', 'group by')
        .choices(['pool', 'repository', 'workflow'])
        .default('pool'),
    )
    .addOption(
      new Option('-o, --output <format>', 'output format (default: table)').choices(['json']),
    );
  cmd.option('-c, --config <file>', "the controller's settings file: its table");
  addStoreOptions(cmd).action(async (flags: CostFlags) => {
    const sinceMs = ctx.deps.clock.now() - parseSince(flags.since);
    const records = await withViewStore(ctx, { ...flags, output: undefined }, (store) =>
      store.listRunners({ states: ['finished'] }),
    );
    const report = costReport(records, sinceMs, flags.by);
    if (flags.output === 'json') {
      ctx.io.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      return;
    }
    ctx.out(costTable(report));
    if (report.withoutCost) {
      ctx.err(
        `${report.withoutCost} finished runner(s) have no cost (no task, or no price for their region).`,
      );
    }
    ctx.err(
      'Estimate: Fargate list prices from the price table (Spot at its configured estimate); data transfer, ECR, CloudWatch and failed launch attempts are not counted. Records are kept finishedTtlSeconds (default 24 h).',
    );
  });
}
