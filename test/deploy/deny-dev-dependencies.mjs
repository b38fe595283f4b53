// For the controller-image test (node --import): importing a development dependency fails, as
// it would in the image, which installs production dependencies only (npm ci --omit=dev).
import { register } from 'node:module';
import { isMainThread } from 'node:worker_threads';

const DEV_ONLY = new Set(['tsx', 'dynalite', 'typescript', 'vitest', 'aws-cdk-lib']);

/** Resolve hook (runs on the loader thread). */
export async function resolve(specifier, context, next) {
  const name = specifier.startsWith('@')
    ? specifier.split('/').slice(0, 2).join('/')
    : specifier.split('/')[0];
  if (DEV_ONLY.has(name)) {
    throw new Error(`development dependency ${specifier} loaded on the production path`);
  }
  return next(specifier, context);
}

if (isMainThread) register(import.meta.url);
