// What one runner task cost: its size (cpu, memory, ephemeral storage) times its billed time
// times the price of its capacity provider in its region. Fargate bills from the start of the
// image pull until the task stops, per second, with a one-minute minimum. Pure: no I/O.

import { INCLUDED_STORAGE_GIB, pricesFor, type PriceTable } from './prices.ts';

export interface TaskUsage {
  region: string;
  capacityProvider: string;
  arch?: 'X86_64' | 'ARM64';
  /** ECS cpu units (1024 = 1 vCPU). */
  cpu: number;
  memoryMiB: number;
  storageGiB?: number;
  /** Billing start: pullStartedAt (ms), else the task's creation. */
  fromMs: number;
  toMs: number;
}

export interface TaskCost {
  usd: number;
  billedSeconds: number;
  /** The price key used (FARGATE, FARGATE_SPOT, FARGATE:ARM64, a provider name). */
  priceKey: string;
}

export const MINIMUM_BILLED_SECONDS = 60;

export function billedSeconds(fromMs: number, toMs: number): number {
  const seconds = Math.ceil(Math.max(0, toMs - fromMs) / 1000);
  return Math.max(MINIMUM_BILLED_SECONDS, seconds);
}

export function taskCost(usage: TaskUsage, table: PriceTable): TaskCost | { missing: string } {
  const found = pricesFor(table, usage.region, usage.capacityProvider, usage.arch ?? 'X86_64');
  if ('missing' in found) return found;
  const seconds = billedSeconds(usage.fromMs, usage.toMs);
  const hours = seconds / 3600;
  const vcpu = usage.cpu / 1024;
  const gb = usage.memoryMiB / 1024;
  const extraStorage = Math.max(
    0,
    (usage.storageGiB ?? INCLUDED_STORAGE_GIB) - INCLUDED_STORAGE_GIB,
  );
  const p = found.prices;
  const usd = hours * (vcpu * p.vcpuHour + gb * p.gbHour + extraStorage * p.storageGbHour);
  return { usd: Math.round(usd * 1e6) / 1e6, billedSeconds: seconds, priceKey: found.key };
}

/** The region of an ECS ARN (arn:aws:ecs:REGION:ACCOUNT:...), if it is one. */
export function regionOfArn(arn: string | undefined): string | undefined {
  const parts = arn?.split(':');
  return parts && parts[0] === 'arn' && parts.length > 4 && parts[3] ? parts[3] : undefined;
}

/** USD with enough digits for small amounts (per-job costs are often below a cent). */
export function formatUsd(usd: number): string {
  return usd >= 1 ? `$${usd.toFixed(2)}` : `$${usd.toFixed(4)}`;
}
