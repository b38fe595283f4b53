// Script entry of the fake runner, used as the container command of a simulated task:
//   tsx controller/sandbox/runner/run.ts --jitconfig <encoded>
// The JIT config may also come from RUNNERCTL_JIT_CONFIG (the task's environment override).
// RUNNERCTL_SANDBOX_CLOCK_SPEED (default 1) runs job durations faster than real time.

import { JIT_CONFIG_ENV } from '../../api/constants.ts';
import { scaledClock, systemClock } from '../../util/clock.ts';
import { runFakeRunner } from './fake-runner.ts';

function argValue(argv: string[], name: string): string | undefined {
  const i = argv.indexOf(name);
  if (i >= 0) return argv[i + 1];
  const prefixed = argv.find((a) => a.startsWith(`${name}=`));
  return prefixed?.slice(name.length + 1);
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  const encoded = argValue(argv, '--jitconfig') ?? process.env[JIT_CONFIG_ENV];
  // The entrypoint's rule: the JIT config does not stay in the environment of the job.
  delete process.env[JIT_CONFIG_ENV];
  if (!encoded) {
    process.stderr.write('An error occurred: no JIT config given (use --jitconfig <encoded>).\n');
    return 1;
  }
  const speed = Number(process.env.RUNNERCTL_SANDBOX_CLOCK_SPEED ?? '1');
  const clock = speed > 0 && speed !== 1 ? scaledClock(speed) : systemClock;
  const controller = new AbortController();
  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    process.once(sig, () => controller.abort(new Error(`received ${sig}`)));
  }
  return runFakeRunner({ encodedJitConfig: encoded, clock, signal: controller.signal });
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`An error occurred: ${(error as Error).message}\n`);
    process.exit(1);
  },
);
