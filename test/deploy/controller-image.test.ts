// No Docker engine in CI: the controller image's Dockerfile and .dockerignore are checked by
// reading them, every path they copy must exist in the repository, and the image's layout is
// rebuilt in a temporary folder (controller/ compiled by tsconfig.build.json) and run with
// development dependencies refused.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { controllerImageNodeFlags } from '../bench/image-flags.ts';

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
  devDependencies: Record<string, string>;
  engines: { node: string };
  scripts: Record<string, string>;
};
const scratch = mkdtempSync(join(tmpdir(), 'runnerctl-image-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

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
  });

  it('compiles controller/ in a build stage and ships the JavaScript, not tsx', () => {
    expect(instructions).toContain('FROM node:${NODE_VERSION}-slim AS build');
    expect(instructions).toContain('RUN npm run build');
    expect(packageJson.scripts.build).toBe('tsc -p tsconfig.build.json');
    expect(instructions).toContain('COPY --from=build /app/dist/controller ./controller');
    // Neither is loaded on the production path: both are development dependencies.
    for (const name of ['tsx', 'dynalite']) {
      expect(packageJson.dependencies[name], name).toBeUndefined();
      expect(packageJson.devDependencies[name], name).toBeDefined();
    }
  });

  it('states the Node version the locked dependencies need, and the README agrees', () => {
    const lock = JSON.parse(readFileSync(resolve(REPO, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { engines?: { node?: string } }>;
    };
    const minimum = packageJson.engines.node.match(/^>=(\d+)\.(\d+)$/);
    expect(minimum).not.toBeNull();
    const [major, minor] = [Number(minimum![1]), Number(minimum![2])];
    // Every locked package's lower bound of the form >=N[.M] must be met by that minimum.
    const stricter = Object.entries(lock.packages).filter(([, pkg]) => {
      const bound = pkg.engines?.node?.match(/^>=\s*(\d+)(?:\.(\d+))?/);
      if (!bound || (pkg.engines?.node ?? '').includes('||')) return false;
      const [m, n] = [Number(bound[1]), Number(bound[2] ?? 0)];
      return m > major || (m === major && n > minor);
    });
    expect(stricter.map(([name, pkg]) => `${name} ${pkg.engines!.node}`)).toEqual([]);
    const readme = readFileSync(resolve(REPO, 'README.md'), 'utf8');
    expect(readme).toContain(`Node.js >= ${major}.${minor}`);
  });

  it('runs the compiled controller with production dependencies only', { timeout: 300_000 }, () => {
    const dist = join(scratch, 'dist');
    const build = spawnSync(
      process.execPath,
      [
        resolve(REPO, 'node_modules/typescript/bin/tsc'),
        '-p',
        'tsconfig.build.json',
        '--outDir',
        dist,
      ],
      { cwd: REPO, encoding: 'utf8' },
    );
    expect(build.stdout + build.stderr).toBe('');
    expect(build.status).toBe(0);
    // The image's /app: bin, crds, package.json and the compiled controller/.
    const app = join(scratch, 'app');
    for (const path of ['bin', 'crds', 'package.json']) {
      cpSync(resolve(REPO, path), join(app, path), { recursive: true });
    }
    cpSync(join(dist, 'controller'), join(app, 'controller'), { recursive: true });
    expect(existsSync(join(app, 'controller/cli/main.js'))).toBe(true);
    symlinkSync(resolve(REPO, 'node_modules'), join(app, 'node_modules'));
    const deny = resolve(REPO, 'test/deploy/deny-dev-dependencies.mjs');
    const run = (...args: string[]) =>
      spawnSync(process.execPath, ['--import', deny, 'bin/runnerctl.js', ...args], {
        cwd: app,
        env: { PATH: process.env.PATH ?? '', HOME: scratch },
        encoding: 'utf8',
      });
    const version = run('version');
    expect(version.stderr).toBe('');
    expect(version.stdout).toMatch(/^runnerctl \d+\.\d+\.\d+/);
    // The controller loads everything it runs, then stops at the missing settings.
    const controller = run('controller');
    expect(controller.stderr).toContain('github.appId is required');
    expect(controller.stderr).not.toContain('development dependency');
    // The hook does refuse them: the embedded store needs dynalite.
    const local = run('get', 'pools', '--store', 'local');
    expect(local.stderr).toContain('development dependency dynalite');
  });

  it('runs `node bin/runnerctl.js controller` as the unprivileged node user, no HEALTHCHECK', () => {
    expect(instructions.filter((line) => line.startsWith('USER ')).at(-1)).toBe('USER node');
    expect(instructions).toContain(
      'ENTRYPOINT ["node", "--heap-growing-percent=50", "bin/runnerctl.js"]',
    );
    expect(instructions.at(-1)).toBe('CMD ["controller"]');
    expect(instructions.some((line) => line.startsWith('HEALTHCHECK'))).toBe(false);
  });

  it('starts Node with flags this Node accepts (the benchmark reads the same ones)', () => {
    const flags = controllerImageNodeFlags();
    expect(flags).toEqual(['--heap-growing-percent=50']);
    const run = spawnSync(process.execPath, [...flags, '-e', '0'], { encoding: 'utf8' });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(() => controllerImageNodeFlags('ENTRYPOINT node bin/runnerctl.js\n')).toThrow(
      /Dockerfile: ENTRYPOINT must be the exec form/,
    );
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
      [
        'bin',
        'controller',
        'crds',
        'package-lock.json',
        'package.json',
        'tsconfig.build.json',
        'tsconfig.json',
      ].sort(),
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
