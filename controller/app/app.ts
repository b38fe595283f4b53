// The composition root: the ONLY place that turns settings into real AWS and GitHub clients and
// wires them into a running controller — store, providers, ingestion (the SQS consumer and the
// HTTP /webhook), the reconcile controller and the HTTP server — and takes it all down again in
// order. `runnerctl controller` calls it with the settings of a config file; `runnerctl sandbox`
// calls it with the same settings pointing at the local cloud.

import { mergePrices } from '../cost/prices.ts';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { ECSClient } from '@aws-sdk/client-ecs';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { DestinationStream, LevelWithSilent } from 'pino';
import {
  resolveControllerSecrets,
  secretRegionOf,
  type ResolvedSecrets,
  type SecretsManagerReader,
} from '../config/load.ts';
import { githubProviderOptions } from '../config/provider-options.ts';
import { MultiAppGitHubProvider } from '../github/multi-app.ts';
import type { ControllerConfig } from '../config/types.ts';
import { driftHandler } from '../drift/http.ts';
import { SdkEcsProvider } from '../ecs/sdk-provider.ts';
import type { EcsTaskEvent } from '../events/ecs-task-event.ts';
import { ingest } from '../events/ingest.ts';
import type { WorkflowJobEvent } from '../events/normalise.ts';
import { SqsConsumer } from '../events/sqs-consumer.ts';
import { DEFAULT_REST_PER_HOUR, OctokitGitHubProvider } from '../github/octokit-provider.ts';
import { jobTimings } from '../observability/job-timings.ts';
import { ControllerMetrics } from '../observability/metrics.ts';
import { controllerReadiness } from '../observability/probes.ts';
import { InstrumentedEcsProvider, InstrumentedGitHubProvider } from '../observability/providers.ts';
import {
  createController,
  LEASE_NAME,
  type Controller,
  type ControllerConfig as ReconcileConfig,
} from '../reconcile/controller.ts';
import { DEFAULT_LISTING_BUDGET_SHARE } from '../reconcile/runner-listing.ts';
import { metricsHandler, readyzHandler } from '../server/health.ts';
import { HttpServer } from '../server/http-server.ts';
import { webhookHandler } from '../server/webhook.ts';
import { openStore, type StoreOptions } from '../store/factory.ts';
import type { Store } from '../store/types.ts';
import { systemClock, type Clock } from '../util/clock.ts';
import { awsClientSettings, SQS_REQUEST_TIMEOUT_MS } from '../util/aws-client.ts';
import { createLogger, type Logger } from '../util/logger.ts';
import { Redactor } from '../util/redact.ts';
import { StartupError } from './errors.ts';

type AwsCredentials = { accessKeyId: string; secretAccessKey: string; sessionToken?: string };

export interface ControllerAppOptions {
  config: ControllerConfig;
  /** Environment for secrets given as `{ env }` (default: process.env). */
  env?: Record<string, string | undefined>;
  clock?: Clock;
  log?: { level?: LevelWithSilent; destination?: DestinationStream };
  /** Store to open instead of the DynamoDB table of `config` (the sandbox's embedded engine). */
  store?: StoreOptions;
  /** AWS credentials for every client (the sandbox's dummy ones); default: the SDK's chain. */
  awsCredentials?: AwsCredentials;
  /** Interface the HTTP server listens on. Default 0.0.0.0. */
  host?: string;
  /** Lease holder id; default hostname-pid-random (unique per replica). */
  leaseHolderId?: string;
  /** Reconcile tuning beyond the config file (the sandbox's short poll periods). */
  reconcile?: Partial<ReconcileConfig>;
  /** Long-poll wait of the SQS consumer (default 20 s). */
  sqsWaitTimeSeconds?: number;
  /**
   * Base of Octokit's retry backoff after a 5xx, in real ms (default 1 s). It does not go through
   * the clock, so a sped-up simulation scales it down itself.
   */
  githubRetryBaseMs?: number;
  /** /readyz probe results are reused this long (default 5 s); a probe times out after 3 s. */
  readiness?: { cacheMs?: number; timeoutMs?: number };
  /** Node.js process metrics on /metrics (default true). */
  processMetrics?: boolean;
  /** Subscribed before the SQS consumer starts: receives every ECS Task State Change event. */
  onTaskEvent?: TaskEventListener;
}

/** Receives an ECS Task State Change event from the queue (a hint: relists stay the truth). */
export type TaskEventListener = (event: EcsTaskEvent) => unknown;

export interface ControllerApp {
  /** Base URL of the HTTP server (health, webhook). */
  url: string;
  /** `<url>/webhook`, when a webhook secret is configured. */
  webhookUrl?: string;
  /** `<operatorUrl>/metrics` (Prometheus text). */
  metricsUrl: string;
  /** Base URL of the metrics listener: /metrics, /drift, /readyz, /healthz. */
  operatorUrl: string;
  controller: Controller;
  /** This replica's metrics (its own prom-client Registry). */
  metrics: ControllerMetrics;
  store: Store;
  logger: Logger;
  /** Webhook ingestion and SQS share this path: de-duplicate, record, wake the pool. */
  ingest(event: WorkflowJobEvent): ReturnType<typeof ingest>;
  /**
   * Subscribes to the ECS Task State Change events the SQS consumer receives (the cluster's
   * EventBridge rule); returns the unsubscribe function. A listener that throws is logged.
   */
  onTaskEvent(listener: TaskEventListener): () => void;
  /** Stops in order: HTTP, SQS consumer, controller (lease released), store, clients. */
  stop(): Promise<void>;
}

/** Least time between two repository discoveries of an organization in the controller app. */
export const DISCOVERY_MS = 10 * 60_000;

function defaultLeaseHolderId(): string {
  return `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
}

/** The reconcile settings a ControllerConfig carries, plus the caller's tuning. */
export function reconcileConfigOf(
  config: ControllerConfig,
  tuning: Partial<ReconcileConfig> = {},
): ReconcileConfig {
  return {
    resyncMs: config.resyncSeconds * 1000,
    // Repositories seen in events are known at once: discovery only finds those whose every
    // event was lost (and all of them when the controller starts), so every 10 minutes.
    discoveryMs: Math.max(config.resyncSeconds * 1000, DISCOVERY_MS),
    leaseMs: config.leaseSeconds * 1000,
    ...(config.cache ? { relistMs: config.cache.relistSeconds * 1000 } : {}),
    // The queue carries the cluster's ECS task events (the stack's second rule).
    taskEvents: Boolean(config.queueUrl),
    // A pass never waits for a listing paced by the REST budget (100 pages of 100 at 5,000/h).
    backgroundListing: true,
    // Listed again once its pages fit the budget share, at most once per resync period.
    listingBudget: {
      restPerHour: config.pacing.restPerHour ?? DEFAULT_REST_PER_HOUR,
      share: DEFAULT_LISTING_BUDGET_SHARE,
      minPeriodMs: config.resyncSeconds * 1000,
    },
    runnerNamePrefix: config.runnerNamePrefix,
    prices: mergePrices(config.cost?.prices),
    ...(config.runnerNetwork ? { allowedNetwork: config.runnerNetwork } : {}),
    ...(config.runnerArchitectures ? { runnerArchitectures: config.runnerArchitectures } : {}),
    ...(config.aws.region ? { region: config.aws.region } : {}),
    ...tuning,
  };
}

export async function startControllerApp(options: ControllerAppOptions): Promise<ControllerApp> {
  const { config } = options;
  const clock = options.clock ?? systemClock;
  const env = options.env ?? process.env;
  const region = config.aws.region ?? env.AWS_REGION;
  const aws = {
    ...(region ? { region } : {}),
    ...(options.awsCredentials ? { credentials: options.awsCredentials } : {}),
  };
  const cleanups: (() => Promise<unknown> | unknown)[] = [];
  const cleanUp = async () => {
    for (const fn of cleanups.splice(0).reverse()) {
      try {
        await fn();
      } catch {
        // Shutting down: every part gets its chance to close.
      }
    }
  };

  // Secrets first: nothing is started when one is missing.
  let secretsClient: SecretsManagerClient | undefined;
  let secretsClientRegion: string | undefined;
  const secretsManager: SecretsManagerReader = {
    async getSecretValue(arn) {
      // The region in the secret's ARN wins: a secret lives in one region only.
      const secretRegion = secretRegionOf(arn) ?? region;
      if (secretsClient && secretsClientRegion !== secretRegion) {
        secretsClient.destroy();
        secretsClient = undefined;
      }
      secretsClientRegion = secretRegion;
      secretsClient ??= new SecretsManagerClient({
        ...awsClientSettings(),
        ...aws,
        ...(secretRegion ? { region: secretRegion } : {}),
      });
      const out = await secretsClient.send(new GetSecretValueCommand({ SecretId: arn }));
      if (typeof out.SecretString === 'string') return out.SecretString;
      if (out.SecretBinary) return Buffer.from(out.SecretBinary).toString('utf8');
      throw new Error('the secret has no value');
    },
  };
  let secrets: ResolvedSecrets;
  try {
    secrets = await resolveControllerSecrets(config, { env, secretsManager });
  } finally {
    secretsClient?.destroy();
  }
  const { privateKey, webhookSecret, enterpriseToken } = secrets;

  const redactor = new Redactor([
    privateKey,
    ...(secrets.appKeys ?? []),
    webhookSecret ?? '',
    enterpriseToken ?? '',
  ]);
  const logger = createLogger({
    level: options.log?.level ?? config.logLevel ?? 'info',
    redactor,
    ...(options.log?.destination ? { destination: options.log.destination } : {}),
  });
  cleanups.push(() => logger.flush());

  try {
    let store: Store;
    try {
      store = await openStore(
        options.store ?? {
          kind: 'dynamodb',
          table: config.table,
          ...(region ? { region } : {}),
          ...(config.aws.dynamodbEndpoint ? { endpoint: config.aws.dynamodbEndpoint } : {}),
          ...(options.awsCredentials ? { credentials: options.awsCredentials } : {}),
          clock,
        },
      );
    } catch (err) {
      throw new StartupError(`cannot open the store: ${(err as Error).message}`, 'store', {
        cause: err,
      });
    }
    cleanups.push(() => store.close());

    // One Registry per app: two replicas in one process never share series.
    const metrics = new ControllerMetrics({ processMetrics: options.processMetrics ?? true });

    const providerOf = (app: { appId: number; privateKey: string; first: boolean }) =>
      new OctokitGitHubProvider({
        ...githubProviderOptions(config, { privateKey: app.privateKey, enterpriseToken }),
        appId: app.appId,
        privateKey: app.privateKey,
        // A fixed installation id belongs to the first App; the others discover theirs.
        ...(app.first ? {} : { installationId: undefined }),
        clock,
        logger: logger.child({ app: app.appId }),
        ...(options.githubRetryBaseMs !== undefined
          ? { retryBaseMs: options.githubRetryBaseMs }
          : {}),
      });
    const first = providerOf({ appId: config.github.appId, privateKey, first: true });
    const extra = config.github.apps ?? [];
    // Several Apps: JIT configs go to the least-used App that serves the owner (multi-app.ts).
    const octokitProvider = extra.length
      ? new MultiAppGitHubProvider(
          [
            { appId: config.github.appId, provider: first },
            ...extra.map((app, i) => ({
              appId: app.appId,
              provider: providerOf({
                appId: app.appId,
                privateKey: secrets.appKeys![i]!,
                first: false,
              }),
              ...(app.owners ? { owners: app.owners } : {}),
            })),
          ],
          { clock },
        )
      : first;
    const github = new InstrumentedGitHubProvider(octokitProvider, metrics);

    const ecsClient = new ECSClient({
      ...awsClientSettings(),
      ...aws,
      ...(config.aws.ecsEndpoint ? { endpoint: config.aws.ecsEndpoint } : {}),
      maxAttempts: 3,
    });
    cleanups.push(() => ecsClient.destroy());
    const sdkEcs = new SdkEcsProvider({
      client: ecsClient,
      pacing: {
        runTaskPerSecond: config.pacing.runTaskPerSecond,
        runTaskBurst: config.pacing.runTaskBurst,
      },
      clock,
      logger,
    });
    const ecs = new InstrumentedEcsProvider(sdkEcs, metrics);

    const leaseHolderId = options.leaseHolderId ?? defaultLeaseHolderId();
    const controller = createController({
      store,
      github,
      ecs,
      clock,
      log: logger.child({ component: 'controller' }),
      config: reconcileConfigOf(config, options.reconcile),
      leaseHolderId,
      metrics,
    });
    metrics.setSources({
      store,
      leaseName: LEASE_NAME,
      isLeader: () => controller.isLeader(),
      rateLimit: () => github.rateLimit(),
    });
    controller.start();
    cleanups.push(() => controller.stop());

    const ingestLogger = logger.child({ component: 'ingest' });
    const observeJob = jobTimings({
      metrics,
      store,
      runnerNamePrefix: config.runnerNamePrefix,
    });
    const ingestEvent = (event: WorkflowJobEvent) =>
      ingest(event, {
        store,
        onJobChanged: async (job) => {
          await observeJob(job);
          await controller.onJobChanged(job);
        },
        clock,
        logger: ingestLogger,
      });

    const taskEventListeners = new Set<TaskEventListener>();
    // The controller's cache first: it wakes the runner's pool.
    taskEventListeners.add((event) => controller.onTaskEvent(event));
    if (options.onTaskEvent) taskEventListeners.add(options.onTaskEvent);
    const taskEventLogger = logger.child({ component: 'task-events' });
    const dispatchTaskEvent = async (event: EcsTaskEvent) => {
      for (const listener of [...taskEventListeners]) {
        try {
          await listener(event);
        } catch (err) {
          taskEventLogger.warn({ err, taskArn: event.taskArn }, 'task event listener failed');
        }
      }
    };
    const subscribeTaskEvents = (listener: TaskEventListener) => {
      taskEventListeners.add(listener);
      return () => void taskEventListeners.delete(listener);
    };

    const server = new HttpServer({ logger: logger.child({ component: 'http' }) });
    const readiness = controllerReadiness({
      store,
      ecs,
      githubApiUrl: config.github.apiUrl ?? 'https://api.github.com',
      leaseName: LEASE_NAME,
      isLeader: () => controller.isLeader(),
      now: () => clock.now(),
      scrub: (text) => redactor.string(text),
      ...options.readiness,
    });
    server.addRoute('GET', '/readyz', readyzHandler(readiness));
    if (webhookSecret) {
      server.addRoute(
        'POST',
        '/webhook',
        webhookHandler({
          secret: webhookSecret,
          ingest: ingestEvent,
          logger,
          onRefused: (reason) => metrics.webhookRefused.inc({ reason }),
        }),
      );
    }
    // Metrics and drift on a listener of their own (loopback by default): they are for the
    // operator, and a drift report spends GitHub calls.
    const operator = new HttpServer({ logger: logger.child({ component: 'http-metrics' }) });
    operator.addRoute('GET', '/readyz', readyzHandler(readiness));
    operator.addRoute('GET', '/metrics', metricsHandler(metrics));
    operator.addRoute('GET', '/drift', driftHandler({ store, github, ecs, clock, logger, config }));
    const listening = await server.listen(config.server.port, options.host).catch((err) => {
      throw new StartupError((err as Error).message, 'server', { cause: err });
    });
    cleanups.push(() => server.close());
    const operatorListening = await operator
      .listen(config.server.metricsPort ?? 0, config.server.metricsHost ?? '127.0.0.1')
      .catch((err) => {
        throw new StartupError((err as Error).message, 'server', { cause: err });
      });
    cleanups.push(() => operator.close());

    if (config.queueUrl) {
      const sqsClient = new SQSClient({
        ...awsClientSettings({ requestTimeoutMs: SQS_REQUEST_TIMEOUT_MS }),
        ...aws,
        ...(config.aws.sqsEndpoint ? { endpoint: config.aws.sqsEndpoint } : {}),
      });
      const consumer = new SqsConsumer({
        queueUrl: config.queueUrl,
        ...(config.deadLetterQueueUrl ? { deadLetterQueueUrl: config.deadLetterQueueUrl } : {}),
        handle: ingestEvent,
        onTaskEvent: dispatchTaskEvent,
        client: sqsClient,
        clock,
        logger,
        ...(options.sqsWaitTimeSeconds !== undefined
          ? { waitTimeSeconds: options.sqsWaitTimeSeconds }
          : {}),
      });
      consumer.start();
      // Destroyed after the consumer stopped (cleanups run in reverse).
      cleanups.push(() => sqsClient.destroy());
      cleanups.push(() => consumer.stop());
    }

    logger.info(
      {
        url: listening.url,
        metrics: `${operatorListening.url}/metrics`,
        leaseHolderId,
        table: options.store ? options.store.kind : config.table,
        queue: config.queueUrl ?? null,
        webhook: Boolean(webhookSecret),
      },
      'controller started',
    );

    let stopping: Promise<void> | undefined;
    return {
      url: listening.url,
      ...(webhookSecret ? { webhookUrl: `${listening.url}/webhook` } : {}),
      metricsUrl: `${operatorListening.url}/metrics`,
      operatorUrl: operatorListening.url,
      controller,
      metrics,
      store,
      logger,
      ingest: ingestEvent,
      onTaskEvent: subscribeTaskEvents,
      stop() {
        stopping ??= (async () => {
          logger.info('controller stopping');
          await cleanUp();
        })();
        return stopping;
      },
    };
  } catch (err) {
    await cleanUp();
    throw err;
  }
}
