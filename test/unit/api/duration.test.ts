import { describe, expect, it } from 'vitest';
import {
  DurationError,
  formatDuration,
  isDuration,
  parseDuration,
} from '../../../controller/api/duration.ts';

describe('durations', () => {
  it.each([
    ['90s', 90_000],
    ['5m', 300_000],
    ['2h', 7_200_000],
    ['1h30m', 5_400_000],
    ['1h0m15s', 3_615_000],
    ['0s', 0],
    ['120h', 432_000_000],
  ])('parses %s', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
    expect(isDuration(text)).toBe(true);
  });

  it.each(['', '5', 'm', '5x', '1.5h', '-5m', '5 m', '30s1m', '5M', '1d'])(
    'rejects %j with the value in the message',
    (text) => {
      expect(isDuration(text)).toBe(false);
      expect(() => parseDuration(text)).toThrow(DurationError);
      expect(() => parseDuration(text)).toThrow(`invalid duration ${JSON.stringify(text)}`);
    },
  );

  it('formats the shortest canonical form', () => {
    expect(formatDuration(90_000)).toBe('1m30s');
    expect(formatDuration(3_600_000)).toBe('1h');
    expect(formatDuration(0)).toBe('0s');
    expect(formatDuration(1_999)).toBe('1s');
    expect(parseDuration(formatDuration(5_415_000))).toBe(5_415_000);
  });
});
