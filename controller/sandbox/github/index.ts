// The GitHub simulator: a loopback HTTP server that the real Octokit clients talk to as if it
// were api.github.com, plus the broker the fake runner speaks, plus a control API.

import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { systemClock, type Clock } from '../../util/clock.ts';
import { createAppIdentity, TokenStore, writePrivateKeyFile } from './auth.ts';
import { buildBrokerRouter } from './broker.ts';
import {
  buildControlRouter,
  createControl,
  type GitHubSimControl,
  type SimFaults,
} from './control.ts';
import { DEFAULT_RATE_LIMITS, RateLimiter, type RateLimitOptions } from './ratelimit.ts';
import { buildRestRouter, type RestDeps, type RestFaults } from './rest.ts';
import { seededRandom } from './rng.ts';
import { createSimServer } from './server.ts';
import { DEFAULT_TIMINGS, SimState, type StateTimings } from './state.ts';
import { NO_WEBHOOK_FAULTS, WebhookDispatcher, type WebhookSinkSpec } from './webhooks.ts';

export type {
  GitHubSimControl,
  SimFaults,
  JobView,
  RunnerView,
  RunView,
  AppCredentials,
} from './control.ts';
export { connectGitHubSimulator } from './control.ts';
export type { WebhookSinkSpec, DeliveryRecord, WebhookFaults } from './webhooks.ts';
export type { JobSpec, RunnerScope, StateTimings } from './state.ts';
export type { RateLimitOptions } from './ratelimit.ts';
export { signBody } from './webhooks.ts';

export interface GitHubSimulatorOptions extends Partial<SimFaults> {
  host?: string;
  /** 0 (default) picks a free port. */
  port?: number;
  /** The clock of the Actions world: job durations, queue timeout, lost runners, webhook delays. */
  clock?: Clock;
  /**
   * The clock of the API surface: JWT and token lifetimes, rate-limit windows, the Date header.
   * Default: `clock`. A sped-up sandbox passes the system clock here, because Octokit measures
   * token lifetimes and JWT times on real time.
   */
  apiClock?: Clock;
  /** Seed of the fault-injection PRNG. Default 1. */
  seed?: number;
  appId?: number;
  /**
   * Several GitHub Apps (ids); the first is `appId`. Each is installed on every account the
   * control API installs on, with its own installation and so its own rate limits.
   */
  appIds?: number[];
  /** Default: random. */
  webhookSecret?: string;
  rateLimits?: Partial<RateLimitOptions>;
  timings?: Partial<StateTimings>;
  webhookSinks?: WebhookSinkSpec[];
  /** Receives unexpected handler errors (answered 500). Default: stderr. */
  onError?: (error: Error) => void;
}

export interface GitHubSimulator {
  /** Base URL: pass it to Octokit as `baseUrl`. */
  url: string;
  appId: number;
  /** Secret: never log it. PKCS#1 PEM, like the keys GitHub hands out. */
  privateKeyPem: string;
  /** Every App (the first is `appId`), with its key. Secrets: never log the keys. */
  apps: { appId: number; privateKeyPem: string }[];
  /** Secret: never log it. */
  webhookSecret: string;
  control: GitHubSimControl;
  /** Writes the App's private key to a file (mode 0600). */
  writePrivateKey(path: string): Promise<void>;
  close(): Promise<void>;
}

export async function startGitHubSimulator(
  options: GitHubSimulatorOptions = {},
): Promise<GitHubSimulator> {
  const clock = options.clock ?? systemClock;
  const apiClock = options.apiClock ?? clock;
  const appIds = options.appIds?.length ? options.appIds : [options.appId ?? 424242];
  if (new Set(appIds).size !== appIds.length) {
    throw new RangeError(`GitHub simulator: App ids must differ, got ${appIds.join(', ')}`);
  }
  const apps = appIds.map((id) => createAppIdentity(id));
  const app = apps[0]!;
  const webhookSecret = options.webhookSecret ?? randomBytes(24).toString('hex');
  const state = new SimState(clock, { ...DEFAULT_TIMINGS, ...options.timings });
  state.appIds = appIds;
  const tokens = new TokenStore(apiClock);
  const limiter = new RateLimiter(apiClock, { ...DEFAULT_RATE_LIMITS, ...options.rateLimits });
  const restFaults: RestFaults = {
    jitLostResponses: options.jitLostResponses ?? 0,
    busyLagMs: options.busyLagMs ?? 0,
  };
  let url = '';
  const apiUrl = () => url;
  const webhooks = new WebhookDispatcher({
    clock,
    random: seededRandom(options.seed ?? 1),
    secret: webhookSecret,
    apiUrl,
    appId: app.appId,
    faults: {
      dropRate: options.dropRate ?? NO_WEBHOOK_FAULTS.dropRate,
      duplicateRate: options.duplicateRate ?? NO_WEBHOOK_FAULTS.duplicateRate,
      delayRate: options.delayRate ?? NO_WEBHOOK_FAULTS.delayRate,
      delayMs: options.delayMs ?? NO_WEBHOOK_FAULTS.delayMs,
      reorderRate: options.reorderRate ?? NO_WEBHOOK_FAULTS.reorderRate,
    },
  });
  for (const sink of options.webhookSinks ?? []) webhooks.addSink(sink);
  state.onJobEvent((event) => webhooks.enqueue(event));

  const closing = new AbortController();
  const restDeps: RestDeps = {
    clock: apiClock,
    state,
    app,
    apps,
    tokens,
    limiter,
    faults: restFaults,
    apiUrl,
    webhooks,
  };
  const control = createControl({
    url: apiUrl,
    state,
    app,
    webhookSecret,
    tokens,
    limiter,
    webhooks,
    restFaults,
  });
  const server = createSimServer({
    clock: apiClock,
    state,
    limiter,
    rest: buildRestRouter(restDeps),
    restDeps,
    broker: buildBrokerRouter({ state, clock, closing: closing.signal }),
    control: buildControlRouter(control),
    closing: closing.signal,
    onError:
      options.onError ??
      ((error) => process.stderr.write(`GitHub simulator: ${error.name}: ${error.message}\n`)),
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  // Time-driven rules (24 h queue timeout, lost runners) are checked on every request and here.
  const ticker = setInterval(() => state.tick(), 100);
  ticker.unref();

  return {
    url,
    appId: app.appId,
    privateKeyPem: app.privateKeyPem,
    apps: apps.map((a) => ({ appId: a.appId, privateKeyPem: a.privateKeyPem })),
    webhookSecret,
    control,
    writePrivateKey: (path) => writePrivateKeyFile(app, path),
    async close() {
      clearInterval(ticker);
      closing.abort();
      await webhooks.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
