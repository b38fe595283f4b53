#!/usr/bin/env node
// The `runnerctl` command. It runs the compiled JavaScript when there is some (the controller
// image ships controller/ compiled by `npm run build`), and otherwise the TypeScript sources
// through tsx, so that `npx runnerctl` works straight after `npm ci` with no build step.
import { existsSync } from 'node:fs';

const compiled = new URL('../controller/cli/main.js', import.meta.url);
if (existsSync(compiled)) {
  await import(compiled.href);
} else {
  // Loaded only here: tsx is a development dependency, absent from the controller image.
  const { register } = await import('tsx/esm/api');
  register();
  await import('../controller/cli/main.ts');
}
