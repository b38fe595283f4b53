// The human summary of a simulation report (the JSON report has everything).

import type { SimulationReport } from './report.ts';

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}

function counts(map: Record<string, number>): string {
  const entries = Object.entries(map);
  return entries.length ? entries.map(([k, v]) => `${k} ${v}`).join(', ') : 'none';
}

export function summaryLines(report: SimulationReport): string[] {
  const s = report.summary;
  const w = s.waitSeconds;
  const lines = [
    '',
    `scenario ${report.scenario.name}: ${report.simulatedSeconds}s simulated in ${report.realSeconds}s (speed ${report.speed}x, seed ${report.seed})`,
    `jobs: ${s.jobs}, completed ${s.completed}, cancelled ${s.cancelled}; queued to started p50 ${w.p50 ?? '-'}s, p95 ${w.p95 ?? '-'}s, max ${w.max ?? '-'}s`,
    '',
    `${pad('pool', 20)} ${pad('runners', 8)} ${pad('tasks', 6)} ${pad('peak', 5)} ${pad('max', 5)} failures`,
  ];
  for (const [name, p] of Object.entries(report.pools)) {
    lines.push(
      `${pad(name, 20)} ${pad(String(p.runners), 8)} ${pad(String(p.tasksStarted), 6)} ${pad(String(p.peakRunners), 5)} ${pad(String(p.maxRunners), 5)} ${counts(p.failures)}`,
    );
  }
  const gh = Object.values(report.api.github).reduce((a, b) => a + b, 0);
  const ecs = Object.values(report.api.ecs).reduce((a, b) => a + b, 0);
  lines.push(
    '',
    `API calls: GitHub ${gh}, ECS ${ecs}; rate-limit errors met: ${report.rateLimitErrors.total}`,
    `faults injected: ${counts(report.faults.injected)}; webhook deliveries: ${counts(report.faults.webhooks)}` +
      (report.faults.controllerRestartsAt.length
        ? `; controller restarts at ${report.faults.controllerRestartsAt.map((t) => `${t}s`).join(', ')}`
        : ''),
    '',
  );
  for (const inv of report.invariants) {
    lines.push(`${inv.ok ? 'ok  ' : 'FAIL'} ${inv.name}: ${inv.description}`);
    for (const v of inv.violations.slice(0, 20)) lines.push(`       ${v}`);
    if (inv.violations.length > 20) lines.push(`       ... and ${inv.violations.length - 20} more`);
  }
  for (const e of report.errors) lines.push(`ERROR ${e}`);
  return lines;
}
