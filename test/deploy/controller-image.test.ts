// No Docker engine in CI: the controller image's Dockerfile and .dockerignore are checked by
// reading them, and every path they copy must exist in the repository.
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const REPO = resolve(import.meta.dirname, '../..');
const instructions = readFileSync(resolve(REPO, 'Dockerfile'), 'utf8')
  .split('\n')
  .map((line) => line.trim())
  .filter((line) => line && !line.startsWith('#'));
const ignore = readFileSync(resolve(REPO, '.dockerignore'), 'utf8')
  .split('\n')
  .filter((line) => line && !line.startsWith('#'));
const packageJson = JSON.parse(readFileSync(resolve(REPO, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
};

describe('controller Dockerfile', () => {
  it('uses a Node LTS base and installs production dependencies from the lock file', () => {
    const arg = instructions.find((line) => line.startsWith('ARG NODE_VERSION='));
    expect(Number(arg?.split('=')[1]) % 2).toBe(0); // even major lines become LTS
    const froms = instructions.filter((line) => line.startsWith('FROM '));
    expect(froms.length).toBeGreaterThanOrEqual(1);
    for (const from of froms) expect(from).toMatch(/^FROM node:\$\{NODE_VERSION\}-slim( AS \w+)?$/);
    expect(instructions).toContain(
      'RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force',
    );
    // The TypeScript runner is needed at run time, so it must not be a dev dependency.
    expect(packageJson.dependencies.tsx).toBeDefined();
  });

  it('runs `node bin/runnerctl.js controller` as the unprivileged node user, no HEALTHCHECK', () => {
    expect(instructions.filter((line) => line.startsWith('USER ')).at(-1)).toBe('USER node');
    expect(instructions).toContain('ENTRYPOINT ["node", "bin/runnerctl.js"]');
    expect(instructions.at(-1)).toBe('CMD ["controller"]');
    expect(instructions.some((line) => line.startsWith('HEALTHCHECK'))).toBe(false);
  });

  it('copies only paths that the build context lets through', () => {
    const copied = [
      ...new Set(
        instructions
          .filter((line) => line.startsWith('COPY ') && !line.includes('--from='))
          .flatMap((line) => line.split(/\s+/).slice(1, -1)),
      ),
    ];
    expect(copied.sort()).toEqual(
      ['bin', 'controller', 'crds', 'package-lock.json', 'package.json'].sort(),
    );
    const allowed = ignore
      .filter((line) => line.startsWith('!'))
      .map((line) => line.slice(1).replace(/\/$/, ''));
    expect(ignore[0]).toBe('*');
    expect(allowed.sort()).toEqual([...copied].sort());
    for (const path of ['bin/runnerctl.js', 'controller', 'package-lock.json']) {
      expect(existsSync(resolve(REPO, path)), path).toBe(true);
    }
  });
});
