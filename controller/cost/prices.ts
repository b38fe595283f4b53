// Prices of the capacity a runner task uses, per region, with no network lookups: the defaults
// below, overridden per region and capacity provider in the controller's settings (`cost.prices`).
//
// Sources (read 2026-12-02; AWS's own page is https://aws.amazon.com/fargate/pricing/):
// - Fargate on-demand, Linux/x86 in us-east-1: USD 0.04048 per vCPU-hour and 0.004445 per GB-hour;
//   Linux/ARM 0.03238 and 0.00356; ephemeral storage above the 20 GB every task includes:
//   0.000111 per GB-hour; billed per second with a one-minute minimum (vantage.sh "AWS Fargate
//   Pricing Explained", wring.co "AWS Fargate Pricing", March 2026). The same figures are listed
//   for us-east-2, us-west-2 and eu-west-1 (tomgregory.com's eu-west-1 comparison).
// - Fargate Spot has no fixed price: AWS moves it with supply and demand and advertises "up to
//   70%" off on-demand. The default is on-demand x 0.30, an estimate; put the current Spot price
//   of your region in the settings for a closer figure.

/** USD per hour of one unit. */
export interface UnitPrices {
  vcpuHour: number;
  /** Per GB (GiB) of task memory. */
  gbHour: number;
  /** Per GB of ephemeral storage beyond the included 20 GB. */
  storageGbHour: number;
}

/** region -> price key -> prices. A key is a capacity provider name, `:ARM64` for ARM. */
export type PriceTable = Record<string, Record<string, UnitPrices>>;

/** Ephemeral storage every Fargate task gets without charge. */
export const INCLUDED_STORAGE_GIB = 20;
/** The default Spot estimate as a share of the on-demand price. */
export const SPOT_SHARE = 0.3;

const X86: UnitPrices = { vcpuHour: 0.04048, gbHour: 0.004445, storageGbHour: 0.000111 };
const ARM: UnitPrices = { vcpuHour: 0.03238, gbHour: 0.00356, storageGbHour: 0.000111 };
const spot = (p: UnitPrices): UnitPrices => ({
  vcpuHour: round(p.vcpuHour * SPOT_SHARE),
  gbHour: round(p.gbHour * SPOT_SHARE),
  storageGbHour: p.storageGbHour,
});
const round = (n: number) => Math.round(n * 1e8) / 1e8;

const FARGATE_PRICES: Record<string, UnitPrices> = {
  FARGATE: X86,
  'FARGATE:ARM64': ARM,
  FARGATE_SPOT: spot(X86),
  'FARGATE_SPOT:ARM64': spot(ARM),
};

export const DEFAULT_PRICES: PriceTable = {
  'us-east-1': FARGATE_PRICES,
  'us-east-2': FARGATE_PRICES,
  'us-west-2': FARGATE_PRICES,
  'eu-west-1': FARGATE_PRICES,
};

/**
 * Finds the price key of a capacity provider (FARGATE, FARGATE_SPOT, an EC2 provider's name).
 * A resolver returns undefined when it does not know the provider; the first answer wins, so
 * other kinds of capacity (EC2 Auto Scaling group providers) add a resolver of their own.
 */
export type PriceKeyResolver = (capacityProvider: string, arch: 'X86_64' | 'ARM64') => string[];

const fargateKeys: PriceKeyResolver = (provider, arch) => {
  const base = provider === 'FARGATE_SPOT' ? 'FARGATE_SPOT' : provider;
  return arch === 'ARM64' ? [`${base}:ARM64`, base] : [base];
};

export const PRICE_KEY_RESOLVERS: PriceKeyResolver[] = [fargateKeys];

/** The prices of one task, or why there are none. */
export function pricesFor(
  table: PriceTable,
  region: string,
  capacityProvider: string,
  arch: 'X86_64' | 'ARM64' = 'X86_64',
): { prices: UnitPrices; key: string } | { missing: string } {
  const regional = table[region];
  if (!regional) return { missing: `no prices for region ${region}` };
  for (const resolve of PRICE_KEY_RESOLVERS) {
    for (const key of resolve(capacityProvider, arch)) {
      const prices = regional[key];
      if (prices) return { prices, key };
    }
  }
  return { missing: `no price for ${capacityProvider} in ${region}` };
}

/** Defaults with the settings' overrides laid over them, per region and key. */
export function mergePrices(overrides: PriceTable | undefined): PriceTable {
  const out: PriceTable = {};
  for (const [region, keys] of Object.entries(DEFAULT_PRICES)) out[region] = { ...keys };
  for (const [region, keys] of Object.entries(overrides ?? {})) {
    out[region] = { ...(out[region] ?? {}), ...keys };
  }
  return out;
}

/**
 * Validates `cost.prices` of the settings: region -> key -> { vcpuHour, gbHour, storageGbHour? }.
 * Throws an Error naming the field.
 */
export function parsePriceTable(value: unknown, where: string): PriceTable {
  const isMap = (v: unknown): v is Record<string, unknown> =>
    typeof v === 'object' && v !== null && !Array.isArray(v);
  if (!isMap(value)) throw new Error(`${where}: expected a mapping of region to prices`);
  const out: PriceTable = {};
  for (const [region, keys] of Object.entries(value)) {
    if (!/^[a-z]{2}(-[a-z]+)+-\d$/.test(region)) {
      throw new Error(`${where}.${region}: not an AWS region name (like us-east-1)`);
    }
    if (!isMap(keys))
      throw new Error(`${where}.${region}: expected a mapping of capacity providers`);
    out[region] = {};
    for (const [key, prices] of Object.entries(keys)) {
      const at = `${where}.${region}.${key}`;
      if (!isMap(prices)) throw new Error(`${at}: expected { vcpuHour, gbHour, storageGbHour }`);
      const unknown = Object.keys(prices).filter(
        (k) => !['vcpuHour', 'gbHour', 'storageGbHour'].includes(k),
      );
      if (unknown.length) {
        throw new Error(`${at}: unknown field ${unknown[0]} (vcpuHour, gbHour, storageGbHour)`);
      }
      const num = (k: string, fallback?: number) => {
        const v = prices[k] ?? fallback;
        if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
          throw new Error(`${at}.${k}: expected a price in USD >= 0, got ${JSON.stringify(v)}`);
        }
        return v;
      };
      out[region]![key] = {
        vcpuHour: num('vcpuHour'),
        gbHour: num('gbHour'),
        storageGbHour: num('storageGbHour', X86.storageGbHour),
      };
    }
  }
  return out;
}
