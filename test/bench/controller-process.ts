// The controller under benchmark, in its own process so that its memory and CPU are its own:
// the real composition root (startControllerApp) with the settings the benchmark sends, on the
// benchmark's shared clock. It counts every HTTP call it makes (GitHub through fetch, AWS
// through node:http) with diagnostics channels, samples its RSS, and answers the parent's
// requests over IPC: stats, reconcile once (timed), stop.

import dc from 'node:diagnostics_channel';
import type { ClientRequest, IncomingMessage } from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { pino } from 'pino';
import { startControllerApp } from '../../controller/app/app.ts';
import { benchClock } from './clock.ts';
import { githubRoute, type ChildRequest, type ChildSpec, type ChildStats } from './protocol.ts';

function main(): void {
  const raw = process.env.RUNNERCTL_BENCH_CHILD;
  if (!raw || !process.send) {
    process.stderr.write('controller-process.ts is started by the benchmark (fork with IPC)\n');
    process.exit(2);
  }
  const spec = JSON.parse(raw) as ChildSpec;
  const githubOrigin = new URL(spec.config.github.apiUrl!).origin;

  const calls: Record<string, number> = {};
  const rateLimited: Record<string, number> = {};
  // GitHub 304s by route: they do not count against the primary rate limit.
  const notModified: Record<string, number> = {};
  const bump = (m: Record<string, number>, k: string) => (m[k] = (m[k] ?? 0) + 1);

  // GitHub: Octokit's fetch (undici).
  dc.subscribe('undici:request:create', (message) => {
    const { request } = message as { request: { origin: string; method: string; path: string } };
    if (String(request.origin) !== githubOrigin) return;
    bump(calls, `github ${request.method} ${githubRoute(request.path)}`);
  });
  dc.subscribe('undici:request:headers', (message) => {
    const { request, response } = message as {
      request: { origin: string; method: string; path: string };
      response: { statusCode: number };
    };
    if (String(request.origin) !== githubOrigin) return;
    if (response.statusCode === 304) {
      bump(notModified, `github ${request.method} ${githubRoute(request.path)}`);
    }
    if (response.statusCode === 403 || response.statusCode === 429) {
      bump(rateLimited, `github ${response.statusCode} ${githubRoute(request.path)}`);
    }
  });
  // AWS: the SDK's node:http handler; the operation is in X-Amz-Target.
  const operation = (request: ClientRequest) => {
    const target = String(request.getHeader('x-amz-target') ?? '');
    const [service = '', op = ''] = target.split('.');
    const name = service.startsWith('AmazonEC2ContainerService')
      ? 'ecs'
      : service.startsWith('DynamoDB')
        ? 'dynamodb'
        : service.startsWith('AmazonSQS')
          ? 'sqs'
          : service || 'http';
    return `${name} ${op || request.method}`;
  };
  dc.subscribe('http.client.request.start', (message) => {
    bump(calls, operation((message as { request: ClientRequest }).request));
  });
  dc.subscribe('http.client.response.finish', (message) => {
    const { request, response } = message as {
      request: ClientRequest;
      response: IncomingMessage;
    };
    const type = String(response.headers['x-amzn-errortype'] ?? '');
    if (/^(ThrottlingException|ThrottledException|RequestLimitExceeded)/.test(type)) {
      bump(rateLimited, operation(request));
    }
  });

  let peakRss = process.memoryUsage().rss;
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  }, 100);
  sampler.unref();
  const loopDelay = monitorEventLoopDelay({ resolution: 20 });
  loopDelay.enable();

  const stats = (reset: boolean): ChildStats => {
    const mem = process.memoryUsage();
    peakRss = Math.max(peakRss, mem.rss);
    const cpu = process.cpuUsage();
    const out: ChildStats = {
      calls: { ...calls },
      rateLimited: { ...rateLimited },
      notModified: { ...notModified },
      rssBytes: mem.rss,
      peakRssBytes: peakRss,
      maxRssBytes: process.resourceUsage().maxRSS * 1024,
      heapUsedBytes: mem.heapUsed,
      cpuUserMs: cpu.user / 1000,
      cpuSystemMs: cpu.system / 1000,
      eventLoopDelayP99Ms: loopDelay.percentile(99) / 1e6,
      eventLoopDelayMaxMs: loopDelay.max / 1e6,
    };
    if (reset) {
      for (const k of Object.keys(calls)) delete calls[k];
      for (const k of Object.keys(rateLimited)) delete rateLimited[k];
      for (const k of Object.keys(notModified)) delete notModified[k];
      peakRss = mem.rss;
      loopDelay.reset();
    }
    return out;
  };

  void (async () => {
    const destination = pino.destination({ dest: spec.logFile, sync: false, append: false });
    const app = await startControllerApp({
      config: spec.config,
      clock: benchClock(spec.clock),
      host: '127.0.0.1',
      awsCredentials: spec.credentials,
      log: { level: spec.logLevel, destination },
      ...(spec.reconcile ? { reconcile: spec.reconcile } : {}),
      sqsWaitTimeSeconds: 2,
    });
    process.on('message', (message: ChildRequest) => {
      const reply = (result: unknown) => process.send!({ id: message.id, result });
      const fail = (err: unknown) =>
        process.send!({ id: message.id, error: (err as Error).message ?? String(err) });
      switch (message.cmd) {
        case 'stats':
          reply(stats(message.reset ?? false));
          return;
        case 'reconcileOnce': {
          // The lease first (taken a moment after start), then one timed pass over every key.
          void (async () => {
            const deadline = Date.now() + 60_000;
            while (!app.controller.isLeader() && Date.now() < deadline) {
              await new Promise((r) => setTimeout(r, 20));
            }
            const started = performance.now();
            const leader = await app.controller.reconcileOnce();
            return { leader, ms: performance.now() - started };
          })().then(reply, fail);
          return;
        }
        case 'stop':
          app.stop().then(
            () => {
              reply(stats(false));
              destination.flushSync();
              setTimeout(() => process.exit(0), 50);
            },
            (err) => {
              fail(err);
              setTimeout(() => process.exit(1), 50);
            },
          );
          return;
      }
    });
    // The benchmark went away: stop, and do not outlive it even if stopping hangs.
    process.on('disconnect', () => {
      setTimeout(() => process.exit(1), 3_000).unref();
      void app.stop().finally(() => process.exit(0));
    });
    process.send!({ ready: true, webhookUrl: app.webhookUrl, url: app.url });
  })().catch((err: unknown) => {
    process.stderr.write(`bench controller failed to start: ${(err as Error).stack ?? err}\n`);
    process.exit(1);
  });
}

main();
