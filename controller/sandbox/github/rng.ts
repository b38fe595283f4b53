// A small seeded PRNG (mulberry32) so that fault injection is reproducible for a given seed.

export interface Random {
  /** Uniform in [0, 1). */
  next(): number;
  /** True with probability `rate` (0..1). */
  chance(rate: number): boolean;
}

export function seededRandom(seed: number): Random {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { next, chance: (rate) => rate > 0 && next() < rate };
}
