// Pool timeouts as milliseconds. Validation (controller/api/validate.ts) already checked the
// format; a bad value here still fails with a message naming the field.

import { parseDuration } from '../api/duration.ts';

/** The duration in `text`, or `fallbackMs` when absent. */
export function durationOr(text: string | undefined, fallbackMs: number, field: string): number {
  if (text === undefined) return fallbackMs;
  try {
    return parseDuration(text);
  } catch (err) {
    throw new RangeError(`${field}: ${(err as Error).message}`, { cause: err });
  }
}
