// Valid Fargate task sizes (ECS developer guide, "Task CPU and memory"). Pure data and checks,
// shared by pool validation, the launcher and the ECS simulator.

export interface FargateMemoryRange {
  /** CPU units. */
  cpu: number;
  /** Smallest memory in MiB. */
  min: number;
  /** Largest memory in MiB. */
  max: number;
  /** Step between valid values in MiB; 0 for an explicit list (`values`). */
  step: number;
  /** Explicit values when the range is not a regular series. */
  values?: readonly number[];
}

const GiB = 1024;

export const FARGATE_SIZES: readonly FargateMemoryRange[] = [
  { cpu: 256, min: 512, max: 2 * GiB, step: 0, values: [512, 1 * GiB, 2 * GiB] },
  { cpu: 512, min: 1 * GiB, max: 4 * GiB, step: GiB },
  { cpu: 1024, min: 2 * GiB, max: 8 * GiB, step: GiB },
  { cpu: 2048, min: 4 * GiB, max: 16 * GiB, step: GiB },
  { cpu: 4096, min: 8 * GiB, max: 30 * GiB, step: GiB },
  { cpu: 8192, min: 16 * GiB, max: 60 * GiB, step: 4 * GiB },
  { cpu: 16384, min: 32 * GiB, max: 120 * GiB, step: 8 * GiB },
];

/** CPU units Fargate accepts, smallest first. */
export const FARGATE_CPU_VALUES: readonly number[] = FARGATE_SIZES.map((s) => s.cpu);

function rangeFor(cpu: number): FargateMemoryRange | undefined {
  return FARGATE_SIZES.find((s) => s.cpu === cpu);
}

/** Every memory value (MiB) valid with `cpu`; empty when `cpu` is not a Fargate CPU value. */
export function fargateMemoryOptions(cpu: number): number[] {
  const range = rangeFor(cpu);
  if (!range) return [];
  if (range.values) return [...range.values];
  const out: number[] = [];
  for (let m = range.min; m <= range.max; m += range.step) out.push(m);
  return out;
}

export function isValidFargateSize(cpu: number, memory: number): boolean {
  return fargateMemoryOptions(cpu).includes(memory);
}

/** Human description of the memory values valid with `cpu`, for error messages. */
export function describeFargateMemory(cpu: number): string {
  const range = rangeFor(cpu);
  if (!range) return `no memory value (cpu must be one of ${FARGATE_CPU_VALUES.join(', ')})`;
  if (range.values) {
    const v = range.values;
    return `${v.slice(0, -1).join(', ')} or ${v[v.length - 1]}`;
  }
  return `${range.min} to ${range.max} in steps of ${range.step}`;
}
