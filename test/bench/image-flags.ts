// The Node/V8 flags the controller image starts with (the Dockerfile's ENTRYPOINT, between
// `node` and `bin/runnerctl.js`): the benchmark's controller process runs with the same ones, so
// its memory is what the production task would see.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const DOCKERFILE = fileURLToPath(new URL('../../Dockerfile', import.meta.url));

export function controllerImageNodeFlags(dockerfile = readFileSync(DOCKERFILE, 'utf8')): string[] {
  const line = dockerfile
    .split('\n')
    .map((l) => l.trim())
    .findLast((l) => l.startsWith('ENTRYPOINT '));
  let entrypoint: unknown;
  try {
    entrypoint = JSON.parse(line?.slice('ENTRYPOINT '.length) ?? '');
  } catch {
    entrypoint = undefined;
  }
  const args = Array.isArray(entrypoint) ? (entrypoint as unknown[]) : [];
  const script = args.indexOf('bin/runnerctl.js');
  if (args[0] !== 'node' || script < 1 || !args.every((a) => typeof a === 'string')) {
    throw new Error(
      `Dockerfile: ENTRYPOINT must be the exec form ["node", FLAGS..., "bin/runnerctl.js"], got ${JSON.stringify(line ?? null)}`,
    );
  }
  return args.slice(1, script) as string[];
}
