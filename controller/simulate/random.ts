// The simulation's dice: the local cloud's seeded PRNG, one stream per fault source so that
// adding a fault of one kind does not shift the draws of another.

import { seededRandom, type Random } from '../sandbox/github/rng.ts';

export type { Random };

/** A PRNG for one fault source, derived from the scenario seed and the source's name. */
export function randomFor(seed: number, source: string): Random {
  let h = seed >>> 0;
  for (const ch of source) h = (Math.imul(h ^ ch.charCodeAt(0), 0x01000193) + 0x9e3779b9) >>> 0;
  return seededRandom(h);
}
