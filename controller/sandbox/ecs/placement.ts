// How ECS reads a capacity provider strategy (CapacityProviderStrategyItem, API reference):
// - at most 20 items, each provider once; base 0-100,000, weight 0-1,000 (SDK model ranges);
// - only one item may have a base; with several items at least one weight must be above 0;
// - the base is satisfied first, then the remaining tasks are split by weight, and an item of
//   weight 0 gets nothing beyond its base.
// ECS documents the base "for each service". A standalone RunTask call has no service, so the
// strategy applies to the tasks of that one call: with count 1 a base > 0 always wins.

import { invalidParameter, type CapacityProviderItem } from './model.ts';

export const MAX_STRATEGY_ITEMS = 20;
export const MAX_BASE = 100_000;
export const MAX_WEIGHT = 1_000;

/** Throws ECS's InvalidParameterException for a strategy ECS would refuse. */
export function validateStrategy(strategy: CapacityProviderItem[]): void {
  if (strategy.length > MAX_STRATEGY_ITEMS) {
    throw invalidParameter(
      `A capacity provider strategy can contain a maximum of ${MAX_STRATEGY_ITEMS} capacity providers; got ${strategy.length}.`,
    );
  }
  const seen = new Set<string>();
  for (const item of strategy) {
    const name = item.capacityProvider;
    if (name.length < 1 || name.length > 255) {
      throw invalidParameter('capacityProvider must be between 1 and 255 characters.');
    }
    if (seen.has(name)) {
      throw invalidParameter(
        `The capacity provider strategy contains a duplicate capacity provider: ${name}.`,
      );
    }
    seen.add(name);
    if (item.weight !== undefined && !inRange(item.weight, MAX_WEIGHT)) {
      throw invalidParameter(
        `capacityProviderStrategy weight for ${name} must be an integer between 0 and ${MAX_WEIGHT}; got ${item.weight}.`,
      );
    }
    if (item.base !== undefined && !inRange(item.base, MAX_BASE)) {
      throw invalidParameter(
        `capacityProviderStrategy base for ${name} must be an integer between 0 and ${MAX_BASE}; got ${item.base}.`,
      );
    }
  }
  if (strategy.filter((item) => (item.base ?? 0) > 0).length > 1) {
    throw invalidParameter(
      'Only one capacity provider in a capacity provider strategy can have a base defined.',
    );
  }
  if (strategy.length > 1 && !strategy.some((item) => (item.weight ?? 0) > 0)) {
    throw invalidParameter(
      'At least one capacity provider in a capacity provider strategy must have a weight greater than zero.',
    );
  }
}

/**
 * The capacity provider of each of `count` tasks of one RunTask call: the base first (in the
 * order written), then by weight. Whole shares go by the weight ratio; the tasks left over
 * (and a call of one task) are drawn by weight with `random`, so many calls follow the ratio.
 * A single provider of weight 0 still takes every task: it is the only one there is.
 */
export function placeByStrategy(
  strategy: CapacityProviderItem[],
  count: number,
  random: () => number,
): string[] {
  const placements: string[] = [];
  for (const item of strategy) {
    for (let i = 0; i < (item.base ?? 0) && placements.length < count; i += 1) {
      placements.push(item.capacityProvider);
    }
  }
  const weighted = strategy.filter((item) => (item.weight ?? 0) > 0);
  const total = weighted.reduce((sum, item) => sum + item.weight!, 0);
  if (total === 0) {
    while (placements.length < count) placements.push(strategy[0]!.capacityProvider);
    return placements;
  }
  const remaining = count - placements.length;
  for (const item of weighted) {
    const share = Math.floor((remaining * item.weight!) / total);
    for (let i = 0; i < share; i += 1) placements.push(item.capacityProvider);
  }
  while (placements.length < count) {
    let roll = random() * total;
    const chosen = weighted.find((item) => (roll -= item.weight!) < 0) ?? weighted.at(-1)!;
    placements.push(chosen.capacityProvider);
  }
  return placements;
}

function inRange(value: number, max: number): boolean {
  return Number.isInteger(value) && value >= 0 && value <= max;
}
