// The controller under benchmark, in its own process so that its memory and CPU are its own:
// the real composition root (startControllerApp) with the settings the benchmark sends, on the
// benchmark's shared clock. It counts every HTTP call it makes (GitHub through fetch, AWS
// through node:http) with diagnostics channels, samples its RSS, and answers the parent's
// requests over IPC: stats, reconcile once (timed), stop.

import dc from 'node:diagnostics_channel';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { join } from 'node:path';
import { writeHeapSnapshot } from 'node:v8';
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

  // The RSS every 100 ms, and how it splits (heap, external, array buffers) when it peaks.
  // The peak itself is the kernel's high-water mark of this process (/proc/self/status VmHWM,
  // reset on stats(reset) through /proc/self/clear_refs), so a spike between two samples counts.
  // Not process.resourceUsage().maxRSS: after fork+exec Linux keeps the parent's (the bench's,
  // ~400 MiB) high-water mark in it.
  // RUNNERCTL_BENCH_MEM_TRACE=FILE: every sample as a JSON line, to see when the peak comes
  // (RUNNERCTL_BENCH_MEM_SAMPLE_MS: another interval than 100 ms).
  // RUNNERCTL_BENCH_HEAP_SNAPSHOT=DIR[:MiB]: one heap snapshot the first time heapUsed reaches
  // MiB (default 100), to see what holds it (open it in Chrome DevTools' Memory tab).
  const trace = process.env.RUNNERCTL_BENCH_MEM_TRACE;
  if (trace) writeFileSync(trace, '');
  const [snapshotDir, snapshotMiB = '100'] = (
    process.env.RUNNERCTL_BENCH_HEAP_SNAPSHOT ?? ''
  ).split(':');
  let snapshotTaken = !snapshotDir;
  const startedAt = Date.now();
  let peakRss = Math.max(process.memoryUsage().rss, highWaterMark() ?? 0);
  let lifetimePeakRss = peakRss;
  let atPeak: ChildStats['atPeak'] = split(process.memoryUsage());
  const sample = (mem: NodeJS.MemoryUsage) => {
    if (mem.rss > peakRss) atPeak = split(mem);
    peakRss = Math.max(peakRss, mem.rss, highWaterMark() ?? 0);
    lifetimePeakRss = Math.max(lifetimePeakRss, peakRss);
    if (trace) {
      appendFileSync(
        trace,
        JSON.stringify({ ms: Date.now() - startedAt, ...mem, peakRss, ...rssKinds() }) + '\n',
      );
    }
    if (!snapshotTaken && mem.heapUsed >= Number(snapshotMiB) * 2 ** 20) {
      snapshotTaken = true;
      const file = writeHeapSnapshot(join(snapshotDir!, `controller-${process.pid}.heapsnapshot`));
      process.stderr.write(`bench controller: heap snapshot ${file}\n`);
    }
  };
  const sampler = setInterval(
    () => sample(process.memoryUsage()),
    Number(process.env.RUNNERCTL_BENCH_MEM_SAMPLE_MS ?? 100),
  );
  sampler.unref();
  // RUNNERCTL_BENCH_ALLOC_PROF=FILE: a sampling heap profile of every allocation, collected
  // ones included (what makes garbage, not only what stays), written at stop. Open it in
  // Chrome DevTools (Memory, load a .heapprofile).
  const allocFile = process.env.RUNNERCTL_BENCH_ALLOC_PROF;
  const allocSession = allocFile ? new Session() : undefined;
  if (allocSession) {
    allocSession.connect();
    allocSession.post('HeapProfiler.startSampling', {
      samplingInterval: 16_384,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: true,
    });
  }
  const writeAllocProfile = () =>
    new Promise<void>((resolve) => {
      if (!allocSession) return resolve();
      allocSession.post('HeapProfiler.stopSampling', (err, result) => {
        if (!err) writeFileSync(allocFile!, JSON.stringify(result.profile));
        resolve();
      });
    });
  const loopDelay = monitorEventLoopDelay({ resolution: 20 });
  loopDelay.enable();

  const stats = (reset: boolean): ChildStats => {
    const mem = process.memoryUsage();
    sample(mem);
    const cpu = process.cpuUsage();
    const out: ChildStats = {
      calls: { ...calls },
      rateLimited: { ...rateLimited },
      notModified: { ...notModified },
      rssBytes: mem.rss,
      peakRssBytes: peakRss,
      maxRssBytes: lifetimePeakRss,
      heapUsedBytes: mem.heapUsed,
      atPeak,
      cpuUserMs: cpu.user / 1000,
      cpuSystemMs: cpu.system / 1000,
      eventLoopDelayP99Ms: loopDelay.percentile(99) / 1e6,
      eventLoopDelayMaxMs: loopDelay.max / 1e6,
    };
    if (reset) {
      for (const k of Object.keys(calls)) delete calls[k];
      for (const k of Object.keys(rateLimited)) delete rateLimited[k];
      for (const k of Object.keys(notModified)) delete notModified[k];
      resetHighWaterMark();
      peakRss = mem.rss;
      atPeak = split(mem);
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
            async () => {
              const last = stats(false);
              await writeAllocProfile();
              reply(last);
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

/** The kernel's peak RSS of this process (Linux), in bytes. */
function highWaterMark(): number | undefined {
  try {
    const kb = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
    return kb === undefined ? undefined : Number(kb) * 1024;
  } catch {
    return undefined;
  }
}

/** Anonymous (heap, malloc), file-backed (code of the node binary, mapped files) and shared RSS. */
function rssKinds(): Record<string, number> {
  try {
    const status = readFileSync('/proc/self/status', 'utf8');
    const out: Record<string, number> = {};
    for (const m of status.matchAll(/^(RssAnon|RssFile|RssShmem):\s+(\d+) kB$/gm)) {
      out[m[1]!] = Number(m[2]) * 1024;
    }
    return out;
  } catch {
    return {};
  }
}

function resetHighWaterMark(): void {
  try {
    writeFileSync('/proc/self/clear_refs', '5');
  } catch {
    // Not Linux (or not allowed): the sampled peak alone.
  }
}

function split(mem: NodeJS.MemoryUsage): ChildStats['atPeak'] {
  return {
    heapTotalBytes: mem.heapTotal,
    heapUsedBytes: mem.heapUsed,
    externalBytes: mem.external,
    arrayBuffersBytes: mem.arrayBuffers,
  };
}

main();
