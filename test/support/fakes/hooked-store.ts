// Wraps any Store so that a test can act right after a write succeeded, e.g. throw to simulate
// the controller crashing between two launch steps. Works for the in-memory and DynamoDB stores.

import type { Store } from '../../../controller/store/types.ts';

export type AfterWrite = (
  op: 'createRunner' | 'updateRunner' | 'updateJob',
  record: unknown,
) => void;

const HOOKED = new Set(['createRunner', 'updateRunner', 'updateJob']);

export function hookWrites(store: Store, hook: () => AfterWrite | undefined): Store {
  return new Proxy(store, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function') return value;
      if (typeof prop !== 'string' || !HOOKED.has(prop)) return value.bind(target);
      return async (...args: unknown[]) => {
        const result = await value.apply(target, args);
        hook()?.(prop as Parameters<AfterWrite>[0], structuredClone(result));
        return result;
      };
    },
  });
}
