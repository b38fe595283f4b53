// The runner-side protocol: a small stand-in for GitHub's broker that the fake runner speaks.
// Documented in docs/sandbox-github.md:
//   POST   /_runner/sessions                           open a session (runner shows online)
//   GET    /_runner/sessions/{id}/message?waitMs=N     long poll: a job, a cancellation, or 204
//   POST   /_runner/sessions/{id}/jobs/{job}/complete  report the job's result
//   DELETE /_runner/sessions/{id}                      deregister (a JIT runner is removed)
// Session calls carry `Authorization: Bearer <session token>`.

import type { Clock } from '../../util/clock.ts';
import { type Reply, type RequestContext, Router } from './router.ts';
import type { JobConclusion, SimRunner, SimSession, SimState } from './state.ts';

const MAX_WAIT_MS = 50_000;
const CONCLUSIONS = new Set<JobConclusion>(['success', 'failure', 'cancelled']);

const msg = (status: number, message: string): Reply => ({ status, body: { message } });

export function buildBrokerRouter(deps: {
  state: SimState;
  clock: Clock;
  closing: AbortSignal;
}): Router {
  const { state, clock, closing } = deps;
  const router = new Router();

  const sessionRunner = (ctx: RequestContext): SimRunner | undefined => {
    const m = /^Bearer\s+(\S+)$/i.exec(ctx.headers.authorization ?? '');
    if (!m) return undefined;
    return state.findSession(ctx.params.session_id ?? '', m[1] as string);
  };

  router.add('POST', '/_runner/sessions', (ctx) => {
    const body = (ctx.body ?? {}) as Record<string, unknown>;
    if (
      typeof body.agentId !== 'number' ||
      typeof body.clientId !== 'string' ||
      typeof body.proof !== 'string'
    ) {
      return msg(400, 'agentId, clientId and proof are required');
    }
    const result = state.openSession(body.agentId, body.clientId, body.proof, {
      ...(typeof body.version === 'string' ? { version: body.version } : {}),
      ...(typeof body.os === 'string' ? { os: body.os } : {}),
    });
    if (!result.ok) return msg(result.status, result.message);
    return {
      status: 201,
      body: {
        sessionId: result.session.id,
        sessionToken: result.token,
        runner: { id: result.runner.id, name: result.runner.name },
      },
    };
  });

  router.add('GET', '/_runner/sessions/{session_id}/message', async (ctx) => {
    const runner = sessionRunner(ctx);
    if (!runner?.session) {
      return msg(
        404,
        'The runner registration has been deleted from the server, please re-configure.',
      );
    }
    const session = runner.session;
    const waitMs = Math.min(MAX_WAIT_MS, Math.max(0, Number(ctx.query.get('waitMs') ?? 0) || 0));
    const deadline = clock.now() + waitMs;
    session.polling += 1;
    try {
      for (;;) {
        state.tick();
        if (!state.runners.has(runner.id) || runner.session !== session) {
          return { status: 200, body: { type: 'deleted' } };
        }
        const message = state.takeMessage(runner);
        if (message) return { status: 200, body: message };
        const left = deadline - clock.now();
        if (left <= 0 || ctx.signal.aborted || closing.aborted) return { status: 204 };
        await waitForWake(session, clock, left, [ctx.signal, closing]);
      }
    } finally {
      session.polling -= 1;
      session.lastSeenMs = clock.now();
    }
  });

  router.add('POST', '/_runner/sessions/{session_id}/jobs/{job_id}/complete', (ctx) => {
    const runner = sessionRunner(ctx);
    if (!runner)
      return msg(
        404,
        'The runner registration has been deleted from the server, please re-configure.',
      );
    const conclusion = (ctx.body as { conclusion?: unknown } | undefined)?.conclusion;
    if (typeof conclusion !== 'string' || !CONCLUSIONS.has(conclusion as JobConclusion)) {
      return msg(400, 'conclusion must be success, failure or cancelled');
    }
    const ok = state.completeJobFromRunner(
      runner,
      Number(ctx.params.job_id),
      conclusion as JobConclusion,
    );
    return ok
      ? { status: 204 }
      : msg(409, `job ${ctx.params.job_id ?? ''} is not assigned to this runner`);
  });

  router.add('DELETE', '/_runner/sessions/{session_id}', (ctx) => {
    const runner = sessionRunner(ctx);
    if (runner) state.closeSession(runner);
    return { status: 204 };
  });

  return router;
}

/** Sleeps until a message may be ready for the session, `ms` of clock time pass, or an abort. */
async function waitForWake(
  session: SimSession,
  clock: Clock,
  ms: number,
  signals: AbortSignal[],
): Promise<void> {
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  for (const s of signals) s.addEventListener('abort', onAbort, { once: true });
  const wake = () => stop.abort();
  session.waiters.add(wake);
  try {
    await clock.sleep(ms, stop.signal).catch(() => undefined);
  } finally {
    session.waiters.delete(wake);
    for (const s of signals) s.removeEventListener('abort', onAbort);
  }
}
