#!/usr/bin/env node
// The `runnerctl` command. TypeScript sources run through tsx so that `npx runnerctl`
// works straight after `npm ci`, with no build step.
import { register } from 'tsx/esm/api';

register();
await import('../controller/cli/main.ts');
