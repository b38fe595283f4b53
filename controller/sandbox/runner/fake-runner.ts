// The fake runner: behaves like `./run.sh --jitconfig X` of the real runner as far as the
// controller can see. It decodes the JIT config, opens a session with the GitHub simulator's
// broker (the runner shows online), takes one job, runs it for the job's duration (clock time),
// reports the result, deregisters and exits 0. The JIT config is a secret: never logged.

import { systemClock, type Clock } from '../../util/clock.ts';
import {
  credentialProof,
  decodeJitConfig,
  JitConfigFormatError,
  type DecodedJitConfig,
} from '../github/jitconfig.ts';

export interface FakeRunnerOptions {
  encodedJitConfig: string;
  clock?: Clock;
  /** Abort = SIGTERM: idle → deregister and exit 0; busy → cancel the job, report, exit. */
  signal?: AbortSignal;
  log?: (line: string) => void;
  /** Long-poll wait asked of the broker, in clock ms. Default 30 s. */
  pollWaitMs?: number;
}

/** Exit codes of the real runner listener. */
export const EXIT_SUCCESS = 0;
export const EXIT_TERMINATED_ERROR = 1;

const RUNNER_VERSION = '2.329.0';
/** Consecutive failed polls (1 s of clock apart) before the runner gives up. */
const MAX_CONNECTION_FAILURES = 60;

type BrokerMessage =
  | {
      type: 'job';
      job: { jobId: number; name: string; durationMs: number; conclusion: 'success' | 'failure' };
    }
  | { type: 'cancel'; jobId: number }
  | { type: 'deleted' };

class BrokerGoneError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'BrokerGoneError';
  }
}

export async function runFakeRunner(options: FakeRunnerOptions): Promise<number> {
  const clock = options.clock ?? systemClock;
  const log = options.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const pollWaitMs = options.pollWaitMs ?? 30_000;
  const stamp = () =>
    new Date(clock.now())
      .toISOString()
      .replace('T', ' ')
      .replace(/\.\d{3}Z$/, 'Z');
  const terminated = (reason: string): number => {
    log(reason);
    log('Runner listener exit with terminated error, stop the service, no retry needed.');
    log('Exiting runner...');
    return EXIT_TERMINATED_ERROR;
  };

  let config: DecodedJitConfig;
  try {
    config = decodeJitConfig(options.encodedJitConfig);
  } catch (error) {
    const why = error instanceof JitConfigFormatError ? error.message : 'it could not be read';
    return terminated(`An error occurred: Invalid JIT configuration: ${why}.`);
  }
  const base = config.runner.serverUrlV2.replace(/\/?$/, '/');
  const agentName = config.runner.agentName;

  // ---- session --------------------------------------------------------------------------
  let session: { sessionId: string; sessionToken: string } | undefined;
  for (let attempt = 1; !session; attempt++) {
    let response: Response;
    try {
      response = await fetch(`${base}sessions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          agentId: config.runner.agentId,
          clientId: config.credentials.data.clientId,
          proof: credentialProof(config.rsaParams),
          version: RUNNER_VERSION,
          os: 'Linux',
        }),
        // Not aborted by SIGTERM: a session the server opened must be known so it can be closed.
        signal: AbortSignal.timeout(30_000),
      });
    } catch (error) {
      if (options.signal?.aborted) return EXIT_SUCCESS;
      if (attempt >= 5)
        return terminated(`Failed to connect to the server: ${(error as Error).message}`);
      log(`${stamp()}: Failed to connect to the server, retrying in 5 seconds.`);
      await clock.sleep(5_000, options.signal).catch(() => undefined);
      continue;
    }
    if (response.status === 201) {
      session = (await response.json()) as { sessionId: string; sessionToken: string };
      break;
    }
    const message =
      ((await response.json().catch(() => ({}))) as { message?: string }).message ?? '';
    if (response.status === 409 && attempt < 3) {
      log(`${stamp()}: A session for this runner already exists.`);
      await clock.sleep(5_000, options.signal).catch(() => undefined);
      if (options.signal?.aborted) return EXIT_SUCCESS;
      continue;
    }
    if (response.status === 409) return terminated('A session for this runner already exists.');
    if (response.status === 404) {
      return terminated(
        'Failed to create a session. The runner registration has been deleted from the server, please re-configure.',
      );
    }
    return terminated(`Failed to create a session: ${response.status} ${message}`);
  }
  log('√ Connected to GitHub');
  log('');
  log(`Current runner version: '${RUNNER_VERSION}'`);
  log(`${stamp()}: Listening for Jobs`);

  const auth = { authorization: `Bearer ${session.sessionToken}` };
  const sessionUrl = `${base}sessions/${session.sessionId}`;
  // Retried: a keep-alive socket closed under an aborted long poll can fail one request.
  const deregister = async () => {
    for (let attempt = 0; attempt < 5; attempt++) {
      const response = await fetch(sessionUrl, { method: 'DELETE', headers: auth }).catch(
        () => undefined,
      );
      if (response) return;
      await new Promise((resolve) => setTimeout(resolve, 20 * (attempt + 1)));
    }
    log(`${stamp()}: Could not deregister the runner from the server.`);
  };
  const poll = async (signal?: AbortSignal): Promise<BrokerMessage | undefined> => {
    const response = await fetch(`${sessionUrl}/message?waitMs=${pollWaitMs}`, {
      headers: auth,
      ...(signal ? { signal } : {}),
    });
    if (response.status === 204) return undefined;
    if (response.status === 404) {
      throw new BrokerGoneError(
        'The runner registration has been deleted from the server, please re-configure.',
      );
    }
    if (!response.ok) throw new Error(`broker answered ${response.status}`);
    return (await response.json()) as BrokerMessage;
  };

  // ---- idle: wait for one job --------------------------------------------------------------
  let job: Extract<BrokerMessage, { type: 'job' }>['job'] | undefined;
  let connectionFailures = 0;
  while (!job) {
    if (options.signal?.aborted) {
      await deregister();
      log(`${stamp()}: Runner received the shutdown signal. Exiting...`);
      return EXIT_SUCCESS;
    }
    let message: BrokerMessage | undefined;
    try {
      message = await poll(options.signal);
      connectionFailures = 0;
    } catch (error) {
      if (options.signal?.aborted) continue;
      if (error instanceof BrokerGoneError) return terminated(error.message);
      // Bounded, so that a runner whose server went away does not poll forever.
      if (++connectionFailures > MAX_CONNECTION_FAILURES) {
        return terminated(`Lost the connection to the server: ${(error as Error).message}`);
      }
      log(`${stamp()}: Lost connection to the server, retrying: ${(error as Error).message}`);
      await clock.sleep(1_000, options.signal).catch(() => undefined);
      continue;
    }
    if (message?.type === 'deleted') {
      return terminated(
        'The runner registration has been deleted from the server, please re-configure.',
      );
    }
    if (message?.type === 'job') job = message.job;
  }

  // ---- busy: run the job, watch for cancellation -------------------------------------------
  log(`${stamp()}: Running job: ${job.name}`);
  const jobStop = new AbortController();
  const onAbort = () => jobStop.abort();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  let cancelled = false;
  const watcher = (async () => {
    while (!jobStop.signal.aborted) {
      try {
        const message = await poll(jobStop.signal);
        if (message?.type === 'cancel' || message?.type === 'deleted') {
          cancelled = true;
          jobStop.abort();
        }
      } catch {
        if (jobStop.signal.aborted) return;
        await clock.sleep(1_000, jobStop.signal).catch(() => undefined);
      }
    }
  })();
  const finished = await clock.sleep(job.durationMs, jobStop.signal).then(
    () => true,
    () => false,
  );
  jobStop.abort();
  options.signal?.removeEventListener('abort', onAbort);
  await watcher;
  const conclusion = finished ? job.conclusion : 'cancelled';
  for (let attempt = 0; attempt < 5; attempt++) {
    const response = await fetch(`${sessionUrl}/jobs/${job.jobId}/complete`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ conclusion }),
    }).catch(() => undefined);
    if (response) break;
    await new Promise((resolve) => setTimeout(resolve, 20 * (attempt + 1)));
  }
  const words = { success: 'Succeeded', failure: 'Failed', cancelled: 'Canceled' } as const;
  log(`${stamp()}: Job ${job.name} completed with result: ${words[conclusion]}`);
  if (cancelled) log(`${stamp()}: The job was cancelled.`);
  await deregister();
  log(`${stamp()}: Runner ${agentName} will exit: it was configured as ephemeral (JIT).`);
  return EXIT_SUCCESS;
}
