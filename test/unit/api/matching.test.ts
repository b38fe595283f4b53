import { describe, expect, it } from 'vitest';
import {
  choosePool,
  matchPool,
  explainNoMatch,
  runnerLabels,
  type MatchablePool,
} from '../../../controller/api/matching.ts';

const sizes = [
  { label: 'small', cpu: 512, memory: 1024 },
  { label: 'large', cpu: 4096, memory: 8192 },
];

function pool(name: string, labels: string[], extra: Partial<MatchablePool['spec']> = {}) {
  return { name, spec: { labels, ...extra } } satisfies MatchablePool;
}

const linux = pool('linux', ['linux', 'x64']);
const sized = pool('sized', ['linux', 'x64'], { sizes, defaultSize: 'small' });

describe('matchPool', () => {
  const cases: {
    name: string;
    job: string[];
    pool: MatchablePool;
    expect: 'none' | 'refused' | { size?: string; requested: boolean; extra: number };
  }[] = [
    {
      name: 'exact labels',
      job: ['linux', 'x64'],
      pool: linux,
      expect: { requested: false, extra: 0 },
    },
    { name: 'subset', job: ['linux'], pool: linux, expect: { requested: false, extra: 1 } },
    {
      name: 'self-hosted is implicit',
      job: ['self-hosted'],
      pool: linux,
      expect: { requested: false, extra: 2 },
    },
    {
      name: 'case-insensitive',
      job: ['Self-Hosted', 'LINUX'],
      pool: linux,
      expect: { requested: false, extra: 1 },
    },
    { name: 'label the pool lacks', job: ['linux', 'gpu'], pool: linux, expect: 'none' },
    {
      name: 'default size',
      job: ['linux'],
      pool: sized,
      expect: { size: 'small', requested: false, extra: 1 },
    },
    {
      name: 'named size',
      job: ['linux', 'LARGE'],
      pool: sized,
      expect: { size: 'large', requested: true, extra: 1 },
    },
    {
      name: 'named default size',
      job: ['small'],
      pool: sized,
      expect: { size: 'small', requested: true, extra: 2 },
    },
    { name: 'two sizes', job: ['small', 'large'], pool: sized, expect: 'none' },
    { name: 'size not offered', job: ['linux', 'xlarge'], pool: sized, expect: 'refused' },
    { name: 'size plus unknown label', job: ['large', 'gpu'], pool: sized, expect: 'none' },
    { name: 'two unknown labels', job: ['gpu', 'xlarge'], pool: sized, expect: 'none' },
    { name: 'no refusal without sizes', job: ['xlarge'], pool: linux, expect: 'none' },
    {
      name: 'a GitHub-hosted job is not refused',
      job: ['ubuntu-latest'],
      pool: sized,
      expect: 'none',
    },
    {
      // #13: `[self-hosted, gpu]` is for no pool, not a size request to every sized pool.
      name: 'a lone unknown label with self-hosted is not a size request',
      job: ['self-hosted', 'xlarge'],
      pool: sized,
      expect: 'none',
    },
    {
      // #13: a typo of a pool label the job left out is not a size request.
      name: 'a near miss of a pool label is a typo, not a size',
      job: ['self-hosted', 'lnux', 'x64'],
      pool: sized,
      expect: 'none',
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const result = matchPool(c.job, c.pool);
      if (c.expect === 'none' || c.expect === 'refused') {
        expect(result.kind).toBe(c.expect);
        return;
      }
      expect(result).toMatchObject({
        kind: 'match',
        pool: c.pool.name,
        sizeRequested: c.expect.requested,
        extraLabels: c.expect.extra,
      });
      if (result.kind === 'match') expect(result.size?.label).toBe(c.expect.size);
    });
  }

  it('refusal names the size and the pool', () => {
    expect(matchPool(['self-hosted', 'linux', 'XLarge'], sized)).toEqual({
      kind: 'refused',
      pool: 'sized',
      sizeLabel: 'xlarge',
      reason: 'size xlarge not offered by pool sized',
    });
  });
});

describe('choosePool', () => {
  const cases: { name: string; job: string[]; pools: MatchablePool[]; expect: string }[] = [
    { name: 'no pools', job: ['linux'], pools: [], expect: 'none' },
    {
      name: 'higher priority wins over specificity',
      job: ['linux'],
      pools: [pool('a', ['linux']), pool('b', ['linux', 'x64'], { priority: 10 })],
      expect: 'match:b',
    },
    {
      name: 'most specific wins at equal priority',
      job: ['linux'],
      pools: [pool('a', ['linux', 'x64', 'big']), pool('b', ['linux', 'x64'])],
      expect: 'match:b',
    },
    {
      name: 'name breaks ties',
      job: ['linux'],
      pools: [pool('zeta', ['linux']), pool('alpha', ['linux'])],
      expect: 'match:alpha',
    },
    {
      name: 'order of the input does not matter',
      job: ['linux'],
      pools: [pool('alpha', ['linux']), pool('zeta', ['linux'])],
      expect: 'match:alpha',
    },
    {
      name: 'pools marked for deletion never match',
      job: ['linux'],
      pools: [
        { ...pool('a', ['linux']), deletionRequestedAt: '2026-01-01T00:00:00Z' },
        pool('b', ['linux', 'x']),
      ],
      expect: 'match:b',
    },
    {
      name: 'a match beats a refusal',
      job: ['linux', 'gpu'],
      pools: [sized, pool('gpu', ['linux', 'gpu'])],
      expect: 'match:gpu',
    },
    {
      name: 'refusal when nothing matches',
      job: ['linux', 'huge'],
      pools: [sized, linux],
      expect: 'refused:sized',
    },
    {
      name: 'negative priority loses',
      job: ['linux'],
      pools: [pool('a', ['linux'], { priority: -1 }), pool('b', ['linux', 'x'])],
      expect: 'match:b',
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const result = choosePool(c.job, c.pools);
      expect(result.kind === 'none' ? 'none' : `${result.kind}:${result.pool}`).toBe(c.expect);
    });
  }
});

describe('runnerLabels', () => {
  it('carries self-hosted, the pool labels and the size label, once each', () => {
    expect(runnerLabels(pool('p', ['linux', 'Self-Hosted', 'x64']), sizes[1])).toEqual([
      'self-hosted',
      'linux',
      'x64',
      'large',
    ]);
  });
});

describe('explainNoMatch', () => {
  it('names the nearest pool and the labels it lacks, with a did-you-mean', () => {
    expect(explainNoMatch(['self-hosted', 'lnux', 'x64'], [sized, pool('gpu', ['gpu'])])).toBe(
      'no pool matches [self-hosted, lnux, x64]: nearest pool sized ' +
        '[self-hosted, linux, x64; sizes small, large] lacks lnux (did you mean linux?)',
    );
    expect(explainNoMatch(['self-hosted', 'gpu'], [linux])).toBe(
      'no pool matches [self-hosted, gpu]: nearest pool linux [self-hosted, linux, x64] lacks gpu',
    );
    expect(explainNoMatch(['linux'], [])).toBe('no pool matches [linux]: there are no pools');
  });

  it('a typo does not make the pool refuse the job (no SizeRefused for an unrelated pool)', () => {
    expect(choosePool(['self-hosted', 'lnux', 'x64'], [sized, linux])).toEqual({ kind: 'none' });
    expect(choosePool(['self-hosted', 'gpu'], [sized])).toEqual({ kind: 'none' });
  });
});

describe('a job without labels', () => {
  // runs-on: [] (or only blanks) asks for no runner a pool could offer: a runner launched for it
  // could never take it, so it is never demand.
  it('matches no pool, sized or not', () => {
    for (const labels of [[], [''], ['  ']]) {
      expect(matchPool(labels, linux).kind).toBe('none');
      expect(matchPool(labels, sized).kind).toBe('none');
      expect(choosePool(labels, [linux, sized])).toEqual({ kind: 'none' });
    }
  });

  it('says why', () => {
    expect(explainNoMatch([], [linux, sized])).toMatch(/no labels/);
  });
});
