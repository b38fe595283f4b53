// Runs the ECS simulator as its own process (what `runnerctl sandbox ecs --port N` wraps):
//   tsx controller/sandbox/ecs/main.ts --port 8788 [--host 127.0.0.1] [--seed 1]
//       [--clock-speed 1] [--spot-shortage 0..1] [--fail-to-start 0..1]
//       [--spot-interruption 0..1] [--no-throttle]
// RUNNING tasks run the fake runner in-process with the JIT config of their environment.
// Point @aws-sdk/client-ecs at the printed URL (any credentials).

import { scaledClock, systemClock } from '../../util/clock.ts';
import { fakeRunnerRuntime } from './fake-runner-runtime.ts';
import { startEcsSimulator } from './simulator.ts';

const argv = process.argv.slice(2);

function arg(name: string): string | undefined {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : argv.find((a) => a.startsWith(`${name}=`))?.slice(name.length + 1);
}

function numberArg(name: string, fallback: number, check: (n: number) => boolean, what: string) {
  const raw = arg(name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!check(value)) throw new RangeError(`${name} must be ${what}, got ${JSON.stringify(raw)}`);
  return value;
}

const probability = (name: string) =>
  numberArg(name, 0, (n) => n >= 0 && n <= 1, 'a probability between 0 and 1');

async function main(): Promise<void> {
  const speed = numberArg('--clock-speed', 1, (n) => n > 0, '> 0');
  const clock = speed === 1 ? systemClock : scaledClock(speed);
  const sim = await startEcsSimulator({
    host: arg('--host') ?? '127.0.0.1',
    port: numberArg('--port', 0, (n) => Number.isInteger(n) && n >= 0, 'a port number'),
    seed: numberArg('--seed', 1, Number.isInteger, 'an integer'),
    clock,
    runtime: fakeRunnerRuntime({
      clock,
      log: (taskArn, line) => process.stdout.write(`[${taskArn.split('/').pop()}] ${line}\n`),
    }),
    faults: {
      spotCapacityShortage: probability('--spot-shortage'),
      failToStart: probability('--fail-to-start'),
      spotInterruption: probability('--spot-interruption'),
      throttle: { enabled: !argv.includes('--no-throttle') },
    },
  });
  process.stdout.write(`ECS simulator listening on ${sim.url} (region ${sim.region})\n`);
  const stop = () => void sim.close().then(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((error: unknown) => {
  process.stderr.write(`ECS simulator failed to start: ${(error as Error).message}\n`);
  process.exit(1);
});
