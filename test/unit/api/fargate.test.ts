import { describe, expect, it } from 'vitest';
import {
  describeFargateMemory,
  FARGATE_CPU_VALUES,
  fargateMemoryOptions,
  isValidFargateSize,
} from '../../../controller/api/fargate.ts';

describe('Fargate task sizes', () => {
  it('knows the seven CPU values', () => {
    expect(FARGATE_CPU_VALUES).toEqual([256, 512, 1024, 2048, 4096, 8192, 16384]);
  });

  it.each([
    [256, 512],
    [256, 2048],
    [512, 1024],
    [512, 4096],
    [1024, 8192],
    [2048, 4096],
    [2048, 16384],
    [4096, 30720],
    [8192, 20480],
    [8192, 61440],
    [16384, 40960],
    [16384, 122880],
  ])('accepts cpu %i with memory %i', (cpu, memory) => {
    expect(isValidFargateSize(cpu, memory)).toBe(true);
  });

  it.each([
    [256, 256],
    [256, 1536],
    [256, 3072],
    [512, 512],
    [1024, 1024],
    [4096, 31744],
    [8192, 18432],
    [16384, 36864],
    [300, 1024],
  ])('rejects cpu %i with memory %i', (cpu, memory) => {
    expect(isValidFargateSize(cpu, memory)).toBe(false);
  });

  it('lists memory options in order', () => {
    expect(fargateMemoryOptions(256)).toEqual([512, 1024, 2048]);
    expect(fargateMemoryOptions(2048)).toHaveLength(13);
    expect(fargateMemoryOptions(8192)).toHaveLength(12);
    expect(fargateMemoryOptions(16384)).toHaveLength(12);
    expect(fargateMemoryOptions(3)).toEqual([]);
  });

  it('describes what a cpu takes', () => {
    expect(describeFargateMemory(256)).toBe('512, 1024 or 2048');
    expect(describeFargateMemory(1024)).toBe('2048 to 8192 in steps of 1024');
    expect(describeFargateMemory(3)).toMatch(/cpu must be one of 256, 512/);
  });
});
