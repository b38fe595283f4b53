// Runs the SQS simulator as its own process (what `runnerctl sandbox sqs --port N` wraps):
//   tsx controller/sandbox/sqs/main.ts --port 8789 [--host 127.0.0.1] [--clock-speed 1]
//       [--queue name ...]
// Point @aws-sdk/client-sqs at the printed URL (any credentials).

import { CreateQueueCommand, SQSClient } from '@aws-sdk/client-sqs';
import { scaledClock, systemClock } from '../../util/clock.ts';
import { startSqsSimulator } from './simulator.ts';

const argv = process.argv.slice(2);

function arg(name: string): string | undefined {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : argv.find((a) => a.startsWith(`${name}=`))?.slice(name.length + 1);
}

/** Every value of a repeatable option. */
function args(name: string): string[] {
  return argv.flatMap((a, i) =>
    a === name && argv[i + 1] !== undefined
      ? [argv[i + 1]!]
      : a.startsWith(`${name}=`)
        ? [a.slice(name.length + 1)]
        : [],
  );
}

async function main(): Promise<void> {
  const speed = Number(arg('--clock-speed') ?? '1');
  if (!(speed > 0)) throw new RangeError(`--clock-speed must be > 0, got ${String(speed)}`);
  const port = Number(arg('--port') ?? '0');
  if (!Number.isInteger(port) || port < 0) {
    throw new RangeError(`--port must be a port number, got ${JSON.stringify(arg('--port'))}`);
  }
  const sim = await startSqsSimulator({
    host: arg('--host') ?? '127.0.0.1',
    port,
    clock: speed === 1 ? systemClock : scaledClock(speed),
  });
  // Queues asked for on the command line are created the way a client would create them.
  const queues = args('--queue');
  if (queues.length > 0) {
    const sqs = new SQSClient({
      endpoint: sim.url,
      region: sim.region,
      credentials: { accessKeyId: 'sandbox', secretAccessKey: 'sandbox' },
    });
    for (const name of queues) await sqs.send(new CreateQueueCommand({ QueueName: name }));
    sqs.destroy();
  }
  for (const queue of sim.queues()) process.stdout.write(`queue ${queue.url}\n`);
  // Last: wrappers wait for this line.
  process.stdout.write(`SQS simulator listening on ${sim.url} (region ${sim.region})\n`);
  const stop = () => void sim.close().then(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((error: unknown) => {
  process.stderr.write(`SQS simulator failed to start: ${(error as Error).message}\n`);
  process.exit(1);
});
