// No Docker engine in CI: the runner image's Dockerfile is checked by reading it.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const RUNNER = resolve(import.meta.dirname, '../../runner');
const dockerfile = readFileSync(resolve(RUNNER, 'Dockerfile'), 'utf8');
/** Instructions, without comments and blank lines. */
const instructions = dockerfile
  .split('\n')
  .map((line) => line.trim())
  .filter((line) => line && !line.startsWith('#'));

describe('runner/Dockerfile', () => {
  it("builds on GitHub's actions-runner image, version pinned by a build argument", () => {
    const arg = instructions.findIndex((line) => /^ARG RUNNER_VERSION=\d+\.\d+\.\d+$/.test(line));
    const from = instructions.findIndex(
      (line) => line === 'FROM ghcr.io/actions/actions-runner:${RUNNER_VERSION}',
    );
    expect(arg).toBeGreaterThanOrEqual(0);
    expect(from).toBeGreaterThan(arg);
    expect(instructions.filter((line) => line.startsWith('FROM '))).toHaveLength(1);
  });

  it('runs the entrypoint as the unprivileged runner user', () => {
    expect(instructions).toContain(
      'COPY --chown=root:root --chmod=0755 entrypoint.sh /usr/local/bin/runnerctl-entrypoint',
    );
    const users = instructions.filter((line) => line.startsWith('USER '));
    expect(users.at(-1)).toBe('USER runner');
    expect(instructions.at(-1)).toBe('ENTRYPOINT ["/usr/local/bin/runnerctl-entrypoint"]');
  });

  it('sends only the entrypoint to the build context', () => {
    const ignore = readFileSync(resolve(RUNNER, '.dockerignore'), 'utf8')
      .split('\n')
      .filter((line) => line && !line.startsWith('#'));
    expect(ignore).toEqual(['*', '!entrypoint.sh']);
  });
});
