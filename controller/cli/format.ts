// Plain-text output helpers: aligned tables and ages, kubectl style.

/** Left-aligned columns separated by three spaces; the first row is the header. */
export function renderTable(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, cell.length);
    });
  }
  return rows
    .map((row) =>
      row
        .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!)))
        .join('   ')
        .trimEnd(),
    )
    .join('\n');
}

/** `45s`, `12m`, `3h`, `5d` (two units below a day: `2h15m`). */
export function formatAge(fromIso: string, nowMs: number): string {
  const from = Date.parse(fromIso);
  if (Number.isNaN(from)) return '<unknown>';
  const s = Math.max(0, Math.floor((nowMs - from) / 1000));
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 24) return m % 60 ? `${h}h${m % 60}m` : `${h}h`;
  return `${Math.floor(h / 24)}d`;
}

/** The table without its header row (`--no-headers`). */
export function withoutHeader(table: string): string {
  return table.split('\n').slice(1).join('\n');
}
