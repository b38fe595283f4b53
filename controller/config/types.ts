// Settings of `runnerctl controller`. Read from a YAML file (`--config FILE`); every field can
// also come from the environment variable named beside it (the environment wins), which is how
// the CDK stack configures the controller's ECS service.

import type { PriceTable } from '../cost/prices.ts';

/** A secret's source: exactly one of a file, an environment variable or a Secrets Manager ARN. */
export type SecretSource = { file: string } | { env: string } | { secretArn: string };

export interface AdditionalApp {
  appId: number;
  privateKey: SecretSource;
  /** Owners (organizations, users) it serves; absent: shared by every owner. */
  owners?: string[];
}

export interface ControllerConfig {
  github: {
    /** GITHUB_APP_ID */
    appId: number;
    /** GITHUB_INSTALLATION_ID. Absent: discovered from the App's installations per owner. */
    installationId?: number;
    /**
     * GITHUB_APP_PRIVATE_KEY (the PEM itself), GITHUB_APP_PRIVATE_KEY_FILE or
     * GITHUB_APP_PRIVATE_KEY_SECRET_ARN.
     */
    privateKey: SecretSource;
    /** GITHUB_WEBHOOK_SECRET, GITHUB_WEBHOOK_SECRET_FILE or GITHUB_WEBHOOK_SECRET_ARN. Optional. */
    webhookSecret?: SecretSource;
    /** GITHUB_API_URL. Default https://api.github.com */
    apiUrl?: string;
    /** Token with manage_runners:enterprise for enterprise-scoped pools (GITHUB_ENTERPRISE_TOKEN...). */
    enterpriseToken?: SecretSource;
    /**
     * More GitHub Apps (config file only). Each has its own JIT limit and REST budget; JIT
     * configs go to the least-used App that serves the owner. The App above (appId) is shared.
     */
    apps?: AdditionalApp[];
  };
  aws: {
    /** AWS_REGION */
    region?: string;
    /** RUNNERCTL_DYNAMODB_ENDPOINT, RUNNERCTL_ECS_ENDPOINT, RUNNERCTL_SQS_ENDPOINT (local engines). */
    dynamodbEndpoint?: string;
    ecsEndpoint?: string;
    sqsEndpoint?: string;
  };
  /** RUNNERCTL_TABLE */
  table: string;
  /** RUNNERCTL_QUEUE_URL. Absent: no SQS consumer (webhooks over HTTP only). */
  queueUrl?: string;
  /**
   * RUNNERCTL_DEAD_LETTER_QUEUE_URL. Where the SQS consumer moves poison messages (with the
   * reason). Absent: they stay on the queue until its redrive policy moves them.
   */
  deadLetterQueueUrl?: string;
  /** RUNNERCTL_LOG_LEVEL: trace, debug, info (default), warn, error, fatal, silent. */
  logLevel?: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';
  server: {
    /** RUNNERCTL_PORT. Default 8080: /webhook, /healthz, /readyz (what may face GitHub). */
    port: number;
    /**
     * RUNNERCTL_METRICS_PORT. Default 9090 (0: any free port): /metrics, /drift, /healthz,
     * /readyz on a listener of their own, so that whoever can reach /webhook cannot read the
     * metrics or spend the GitHub budget through /drift. Left out of a config built in code: any
     * free port.
     */
    metricsPort?: number;
    /**
     * RUNNERCTL_METRICS_HOST. Default 127.0.0.1: only the same host (on Fargate: the same task,
     * e.g. a metrics sidecar) can connect.
     */
    metricsHost?: string;
  };
  /** RUNNERCTL_RUNNER_NAME_PREFIX. Default `rctl`. */
  runnerNamePrefix: string;
  /** RUNNERCTL_RESYNC_SECONDS. Default 60. */
  resyncSeconds: number;
  /**
   * Client-side pacing (defaults: 180 JIT configs/min, RunTask 20/s with a burst of 100).
   * RUNNERCTL_JIT_PER_MINUTE, RUNNERCTL_RUNTASK_PER_SECOND, RUNNERCTL_RUNTASK_BURST.
   */
  pacing: {
    jitPerMinute: number;
    runTaskPerSecond: number;
    runTaskBurst: number;
    /** Other GitHub REST calls per hour (default 5,000, the per-installation primary limit). */
    restPerHour?: number;
  };
  /** RUNNERCTL_LEASE_SECONDS. Default 15. */
  leaseSeconds: number;
  /**
   * The informer cache (docs/architecture.md). `relistSeconds` (RUNNERCTL_CACHE_RELIST_SECONDS,
   * at least 10, default 300): period of the full relist, the safety net behind own writes and
   * events, jittered by a fifth either way.
   */
  cache?: { relistSeconds: number };
  /**
   * Runner costs (file only). `prices`: region -> capacity provider (FARGATE, FARGATE_SPOT,
   * FARGATE:ARM64, FARGATE_SPOT:ARM64, or an EC2 capacity provider's name) ->
   * { vcpuHour, gbHour, storageGbHour } in USD, laid over the defaults of controller/cost/prices.ts.
   */
  cost?: { prices?: PriceTable };
  /**
   * The only subnets and security groups runner tasks may use (the stack's RunnerSubnetIds and
   * RunnerSecurityGroupId outputs): RUNNERCTL_RUNNER_SUBNETS, RUNNERCTL_RUNNER_SECURITY_GROUPS
   * (comma-separated). A pool naming others does not launch. Absent: not checked.
   */
  runnerNetwork?: { subnets?: string[]; securityGroups?: string[] };
  /**
   * The architectures the stack made runner task definitions for, its plain families' own first
   * (stack output; RUNNERCTL_RUNNER_ARCHITECTURES). A pool whose runtimePlatform names another one
   * of them launches that architecture's family (controller/reconcile/runner/task-definition.ts).
   */
  runnerArchitectures?: ('X86_64' | 'ARM64')[];
}
