// Fargate task sizes: the cpu/memory pairs ECS accepts, in CPU units and MiB.

const GIB = 1024;

function range(from: number, to: number, step: number): number[] {
  const values: number[] = [];
  for (let value = from; value <= to; value += step) values.push(value);
  return values;
}

export const FARGATE_SIZES: ReadonlyMap<number, readonly number[]> = new Map([
  [256, [512, 1 * GIB, 2 * GIB]],
  [512, range(1 * GIB, 4 * GIB, GIB)],
  [1024, range(2 * GIB, 8 * GIB, GIB)],
  [2048, range(4 * GIB, 16 * GIB, GIB)],
  [4096, range(8 * GIB, 30 * GIB, GIB)],
  [8192, range(16 * GIB, 60 * GIB, 4 * GIB)],
  [16384, range(32 * GIB, 120 * GIB, 8 * GIB)],
]);

export function isFargateSize(cpu: number, memory: number): boolean {
  return FARGATE_SIZES.get(cpu)?.includes(memory) ?? false;
}

/** ECS accepts "1024", "1 vCPU" / "1vcpu"; answers the number of CPU units, NaN if unreadable. */
export function parseCpu(value: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(vcpu)?\s*$/i.exec(value);
  if (!match) return Number.NaN;
  return match[2] ? Math.round(Number(match[1]) * 1024) : Number(match[1]);
}

/** ECS accepts "2048", "2 GB" / "2gb"; answers MiB, NaN if unreadable. */
export function parseMemory(value: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(gb)?\s*$/i.exec(value);
  if (!match) return Number.NaN;
  return match[2] ? Math.round(Number(match[1]) * 1024) : Number(match[1]);
}
