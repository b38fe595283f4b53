// The drift report as text for people (`runnerctl drift -o table`): a summary line, a table of
// findings, then each finding's message and the action that resolves it.

import type { DriftFinding, DriftReport } from './types.ts';
import { formatDuration } from './classify.ts';

function table(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows
    .map((row) =>
      row
        .map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i]!)))
        .join('   ')
        .trimEnd(),
    )
    .join('\n');
}

/** The objects of a finding, short: runner name and GitHub id, task id, job id. */
export function objectsText(f: DriftFinding): string {
  const o = f.objects;
  const parts: string[] = [];
  if (o.runner)
    parts.push(o.githubRunnerId !== undefined ? `${o.runner} (#${o.githubRunnerId})` : o.runner);
  else if (o.githubRunnerId !== undefined) parts.push(`runner #${o.githubRunnerId}`);
  if (o.taskArn) parts.push(`task ${o.taskArn.split('/').pop()}`);
  if (o.jobId !== undefined) parts.push(`job ${o.jobId}`);
  return parts.join(', ') || '-';
}

function checkedText(r: DriftReport): string {
  const c = r.checked;
  return (
    `${c.pools} pool(s), ${c.records} live runner record(s), ${c.githubRunners} GitHub runner(s), ` +
    `${c.tasks} task(s), ${c.queuedJobs} queued job(s) in ${c.repositories} repositor${c.repositories === 1 ? 'y' : 'ies'}`
  );
}

export function renderDriftText(report: DriftReport): string {
  const nowMs = Date.parse(report.generatedAt);
  const lines: string[] = [];
  const where = report.pool ? `pool ${report.pool}: ` : '';
  if (report.inSync) {
    lines.push(`${where}in sync: ${checkedText(report)} (grace ${report.graceSeconds}s)`);
  } else {
    const n = report.findings.length;
    lines.push(
      `${where}drift: ${n} finding${n === 1 ? '' : 's'} in ${checkedText(report)} (grace ${report.graceSeconds}s)`,
    );
    lines.push('');
    const rows = report.findings.map((f, i) => [
      String(i + 1),
      f.kind,
      f.pool ?? '-',
      f.since ? formatDuration(nowMs - Date.parse(f.since)) : '-',
      f.actor,
      objectsText(f),
    ]);
    lines.push(table([['#', 'KIND', 'POOL', 'AGE', 'BY', 'OBJECTS'], ...rows]));
    lines.push('');
    report.findings.forEach((f, i) => {
      lines.push(`${i + 1}. ${f.message}`);
      if (f.objects.jobUrl) lines.push(`   job:    ${f.objects.jobUrl}`);
      if (f.objects.taskArn) lines.push(`   task:   ${f.objects.taskArn}`);
      lines.push(`   action (${f.actor}): ${f.action}`);
    });
  }
  for (const w of report.warnings) lines.push(`warning: ${w}`);
  return lines.join('\n');
}
