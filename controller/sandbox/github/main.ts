// Runs the GitHub simulator as its own process (what `runnerctl sandbox github --port N` wraps):
//   tsx controller/sandbox/github/main.ts --port 8787 [--host 127.0.0.1] [--seed 1]
//       [--key-file ./sandbox-app.pem] [--clock-speed 1]
// Prints the URL and the App id; the private key goes to --key-file (mode 0600), never stdout.
// Drive it with `connectGitHubSimulator(url)` (POST /_sim/<method>).

import { scaledClock, systemClock } from '../../util/clock.ts';
import { startGitHubSimulator } from './index.ts';

function arg(name: string): string | undefined {
  const argv = process.argv.slice(2);
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : argv.find((a) => a.startsWith(`${name}=`))?.slice(name.length + 1);
}

function intArg(name: string, fallback: number): number {
  const raw = arg(name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) {
    throw new RangeError(`${name} must be a non-negative integer, got ${JSON.stringify(raw)}`);
  }
  return value;
}

async function main(): Promise<void> {
  const speed = Number(arg('--clock-speed') ?? '1');
  if (!(speed > 0)) throw new RangeError(`--clock-speed must be > 0, got ${String(speed)}`);
  const sim = await startGitHubSimulator({
    host: arg('--host') ?? '127.0.0.1',
    port: intArg('--port', 0),
    seed: intArg('--seed', 1),
    clock: speed === 1 ? systemClock : scaledClock(speed),
    // Octokit measures JWT and token lifetimes on real time.
    apiClock: systemClock,
  });
  const keyFile = arg('--key-file');
  if (keyFile) await sim.writePrivateKey(keyFile);
  process.stdout.write(
    `GitHub simulator listening on ${sim.url} (App id ${sim.appId}${keyFile ? `, private key in ${keyFile}` : ''})\n`,
  );
  const stop = () => void sim.close().then(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((error: unknown) => {
  process.stderr.write(`GitHub simulator failed to start: ${(error as Error).message}\n`);
  process.exit(1);
});
