// Entry point of the `runnerctl` binary (bin/runnerctl.js loads it through tsx).

import { run } from './run.ts';

// The AWS SDK warns on every run that its 2027 releases will need Node 22; that notice is for
// maintainers, not for people running commands, so the CLI keeps stderr for real errors.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

// Ctrl-C ends `get -w` cleanly (exit 0, the store closed); a second one exits at once.
const interrupt = new AbortController();
process.once('SIGINT', () => {
  interrupt.abort();
  process.once('SIGINT', () => process.exit(130));
});

process.exitCode = await run(
  process.argv.slice(2),
  {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    env: process.env,
    cwd: process.cwd(),
  },
  { signal: interrupt.signal },
);
// Nothing is left to wait for (a watch ended): do not linger on the SIGINT listener.
process.removeAllListeners('SIGINT');
