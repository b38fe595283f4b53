// Settings the controller refuses at start rather than at its first launch.

import { describe, expect, it } from 'vitest';
import { MAX_RUNNER_NAME_LENGTH } from '../../../controller/api/constants.ts';
import { MAX_RUNNER_NAME_PREFIX_LENGTH, runnerName } from '../../../controller/reconcile/names.ts';
import { World } from '../../support/fakes/world.ts';

describe('runner name prefix', () => {
  it('a prefix too long for GitHub runner names is refused when the controller is created', () => {
    const w = new World();
    expect(() => w.controller({ runnerNamePrefix: 'a'.repeat(21) })).toThrow(
      /runnerNamePrefix: runner name prefix "a{21}" is 21 characters; at most 20 .*64 characters/,
    );
    expect(() => w.controller({ runnerNamePrefix: 'Bad_Prefix' })).toThrow(/lower-case letters/);
  });

  it('the longest prefix and a long pool name still give names within 64 characters', () => {
    const prefix = 'p'.repeat(MAX_RUNNER_NAME_PREFIX_LENGTH);
    const name = runnerName(prefix, 'a-very-long-pool-name-'.repeat(5), 'abcdef12');
    expect(name.length).toBeLessThanOrEqual(MAX_RUNNER_NAME_LENGTH);
    expect(name.startsWith(`${prefix}-a-very-long-pool-name`)).toBe(true);
    expect(name.endsWith('-abcdef12')).toBe(true);
  });
});
