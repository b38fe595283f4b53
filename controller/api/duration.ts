// Durations as pools write them: `90s`, `5m`, `2h`, or combined in h-m-s order (`1h30m`).

import { ApiError } from './errors.ts';

export const DURATION_PATTERN = '^(?=[0-9])([0-9]+h)?([0-9]+m)?([0-9]+s)?$';

const DURATION_RE = new RegExp(DURATION_PATTERN);
const UNIT_MS = { h: 3_600_000, m: 60_000, s: 1_000 } as const;

export class DurationError extends ApiError {
  constructor(
    message: string,
    readonly value: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'DurationError';
  }
}

export function isDuration(text: string): boolean {
  return DURATION_RE.test(text);
}

/** Milliseconds of a duration string; throws DurationError naming the value when malformed. */
export function parseDuration(text: string): number {
  if (!DURATION_RE.test(text)) {
    throw new DurationError(
      `invalid duration ${JSON.stringify(text)}: expected a number followed by h, m or s, such as 90s, 5m, 2h or 1h30m`,
      text,
    );
  }
  let ms = 0;
  for (const [, amount, unit] of text.matchAll(/([0-9]+)([hms])/g)) {
    ms += Number(amount) * UNIT_MS[unit as keyof typeof UNIT_MS];
  }
  return ms;
}

/** Shortest canonical form: 90_000 -> `1m30s`, 0 -> `0s`. Sub-second parts are dropped. */
export function formatDuration(ms: number): string {
  let rest = Math.floor(Math.max(0, ms) / 1000);
  const h = Math.floor(rest / 3600);
  rest -= h * 3600;
  const m = Math.floor(rest / 60);
  const s = rest - m * 60;
  const out = `${h ? `${h}h` : ''}${m ? `${m}m` : ''}${s ? `${s}s` : ''}`;
  return out || '0s';
}
