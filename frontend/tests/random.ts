// A seeded generator for the property tests: the same seed gives the same cases, so a failure
// names the seed and case that reproduce it (`SEED=… npm test`).
export type Random = {
  int(below: number): number;
  pick<T>(items: readonly T[]): T;
  bytes(max: number): Uint8Array;
};

export const SEED = Number(process.env.SEED ?? 20261128);

/** mulberry32: small, fast and good enough to spread test cases. */
export function random(seed: number = SEED): Random {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (below: number) => Math.floor(next() * below);
  return {
    int,
    pick: (items) => items[int(items.length)] as (typeof items)[number],
    bytes: (max) => Uint8Array.from({ length: int(max + 1) }, () => int(256)),
  };
}
