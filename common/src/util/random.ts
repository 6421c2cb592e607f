/**
 * Seeded randomness and hashing. Every random choice in the kit goes through here, so the same
 * seed always gives the same users, actions, splits and bootstrap samples.
 */

/** MurmurHash3 (x86, 32-bit) of a UTF-16 string's code units, as an unsigned 32-bit integer. */
export function hash32(text: string, seed = 0): number {
  let h = seed >>> 0;
  const n = text.length;
  let i = 0;
  for (; i + 1 < n; i += 2) {
    let k = (text.charCodeAt(i) & 0xffff) | ((text.charCodeAt(i + 1) & 0xffff) << 16);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  if (i < n) {
    let k = text.charCodeAt(i) & 0xffff;
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
  }
  h ^= n * 2;
  return fmix32(h);
}

/** The finalisation mix of MurmurHash3: a good 32-bit integer scrambler. */
export function fmix32(x: number): number {
  let h = x >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A number in [0, 1) derived from a string and a seed; the same inputs give the same number. */
export function hashUnit(text: string, seed = 0): number {
  return hash32(text, seed) / 4294967296;
}

/** Turns a seed given as a number or a string into a 32-bit state word. */
function seedWord(seed: number | string): number {
  if (typeof seed === "string") return hash32(seed, 0x9e3779b9);
  if (!Number.isFinite(seed)) throw new RangeError(`seed must be a finite number, got ${seed}`);
  // Mix the integer and fractional parts so that 1 and 1.5 differ.
  return fmix32((Math.trunc(seed) ^ Math.round((seed % 1) * 1e9)) + 0x6d2b79f5);
}

/**
 * A small, fast, seeded pseudo-random generator (sfc32, a 128-bit state chaotic counter
 * generator that passes PractRand). Not for cryptography.
 */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number | string) {
    const s = seedWord(seed);
    this.a = 0x9e3779b9;
    this.b = 0x243f6a88;
    this.c = 0xb7e15162;
    this.d = s;
    for (let i = 0; i < 12; i++) this.nextUint32();
  }

  /** A uniform unsigned 32-bit integer. */
  nextUint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** A uniform number in [0, 1) with 53 bits of precision. */
  next(): number {
    const hi = this.nextUint32() >>> 5; // 27 bits
    const lo = this.nextUint32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** A uniform integer in [0, n). */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0) throw new RangeError(`int(n) needs a positive integer n, got ${n}`);
    return Math.floor(this.next() * n);
  }

  /** A standard normal draw (Box-Muller). */
  normal(): number {
    let u = 0;
    while (u === 0) u = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }

  /** A Poisson(1) draw, used by online bootstrap (bagging). */
  poisson1(): number {
    const limit = Math.exp(-1);
    let k = 0;
    let p = this.next();
    while (p > limit) {
      k++;
      p *= this.next();
    }
    return k;
  }

  /** An index drawn from a probability mass function (weights summing to 1). */
  sample(pmf: ArrayLike<number>): number {
    return sampleIndex(pmf, this.next());
  }

  /** A new generator whose stream depends on this one's seed and a label, not on its position. */
  static derive(seed: number | string, label: string): Rng {
    return new Rng(`${typeof seed === "number" ? seedWord(seed) : seed}/${label}`);
  }
}

/** Picks the index whose cumulative probability first exceeds u (u in [0, 1)). */
export function sampleIndex(pmf: ArrayLike<number>, u: number): number {
  let acc = 0;
  for (let i = 0; i < pmf.length; i++) {
    acc += pmf[i];
    if (u < acc) return i;
  }
  // Rounding can leave the sum a hair under 1: fall back to the last action with mass.
  for (let i = pmf.length - 1; i >= 0; i--) if (pmf[i] > 0) return i;
  throw new RangeError("cannot sample from a pmf with no positive mass");
}
