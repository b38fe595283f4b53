// Graceful shutdown: the first SIGTERM/SIGINT runs stop() once and resolves with the signal;
// a second signal while stopping exits at once.

import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { untilSignal } from '../../../controller/app/signals.ts';

function fakeProcess() {
  const emitter = new EventEmitter();
  const exits: number[] = [];
  const target = {
    once: (event: string, fn: () => void) => emitter.once(event, fn),
    removeListener: (event: string, fn: () => void) => emitter.removeListener(event, fn),
    exit: (code?: number) => {
      exits.push(code ?? 0);
    },
  } as unknown as Pick<NodeJS.Process, 'once' | 'removeListener' | 'exit'>;
  return { emitter, exits, target };
}

describe('untilSignal', () => {
  it('stops once on SIGTERM and resolves with it', async () => {
    const p = fakeProcess();
    let stops = 0;
    const seen: string[] = [];
    const done = untilSignal(
      async () => {
        stops++;
      },
      { target: p.target, onSignal: (s) => seen.push(s) },
    );
    p.emitter.emit('SIGTERM');
    await expect(done).resolves.toBe('SIGTERM');
    expect(stops).toBe(1);
    expect(seen).toEqual(['SIGTERM']);
    expect(p.exits).toEqual([]);
  });

  it('exits at once on a second signal while stopping', async () => {
    const p = fakeProcess();
    let finish!: () => void;
    const done = untilSignal(() => new Promise<void>((r) => (finish = r)), { target: p.target });
    p.emitter.emit('SIGINT');
    p.emitter.emit('SIGINT');
    expect(p.exits).toEqual([130]);
    finish();
    await expect(done).resolves.toBe('SIGINT');
  });

  it('rejects when stop fails', async () => {
    const p = fakeProcess();
    const done = untilSignal(() => Promise.reject(new Error('store close failed')), {
      target: p.target,
    });
    p.emitter.emit('SIGTERM');
    await expect(done).rejects.toThrow('store close failed');
  });
});
