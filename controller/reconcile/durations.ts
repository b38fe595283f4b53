// Duration strings of pool timeouts: `90s`, `5m`, `2h`, `1h30m`, `500ms`.

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export function parseDuration(text: string, field = 'duration'): number {
  const trimmed = text.trim();
  const parts = [...trimmed.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g)];
  if (!parts.length || parts.map((p) => p[0]).join('') !== trimmed) {
    throw new RangeError(`${field}: "${text}" is not a duration like 90s, 5m or 2h`);
  }
  return parts.reduce((sum, p) => sum + Number(p[1]) * UNIT_MS[p[2]!]!, 0);
}

/** The duration in `text`, or `fallbackMs` when absent. */
export function durationOr(text: string | undefined, fallbackMs: number, field?: string): number {
  return text === undefined ? fallbackMs : parseDuration(text, field);
}
