/**
 * Numbers and text straight from a file's bytes, for the readers' fast paths: no string is made
 * for a number, and the result is always exactly what Number(text) gives.
 */

const POW10 = Array.from({ length: 23 }, (_, k) => Number(`1e${k}`));
const TWO32 = 4294967296;
/** Largest mantissa m for which m·10 + 9 stays below 2^53. */
const EXACT_LIMIT = 900719925474099;

const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);

/**
 * The number written in bytes b[a, e) (ASCII, spaces around it allowed), NaN if it is not one.
 *
 * Plain decimals (`-12.345`, no exponent) with at most 22 decimals take the fast path:
 *  - up to 15–16 significant digits (mantissa below 2^53): digits / 10^k, both exact doubles, so
 *    the one division rounds correctly (Clinger's fast path);
 *  - 16–19 significant digits (the 17 digits `String(x)` writes for most doubles): the mantissa is
 *    kept exactly in two 32-bit halves, the quotient is estimated, and its exact residual
 *    (computed with an error-free product) picks the correctly rounded double; the rare case too
 *    close to a rounding boundary to decide goes to Number.
 * Anything else (exponents, more digits, odd text) goes through Number.
 */
export function numberAt(b: Buffer, a: number, e: number): number {
  while (a < e && b[a] === 32) a++;
  while (e > a && b[e - 1] === 32) e--;
  if (a >= e) return NaN;
  let i = a;
  const neg = b[i] === 45;
  if (neg || b[i] === 43) i++;
  let m = 0, digits = 0, scale = 0, dot = false;
  for (; i < e; i++) {
    const c = b[i];
    if (c >= 48 && c <= 57) {
      if (m > EXACT_LIMIT) return wideNumber(b, a, e, i, m, scale, dot, neg);
      m = m * 10 + (c - 48);
      digits++;
      if (dot) scale++;
    } else if (c === 46 && !dot) dot = true;
    else return slowNumber(b, a, e);
  }
  if (digits === 0 || scale > 22) return slowNumber(b, a, e);
  const v = scale === 0 ? m : m / POW10[scale];
  return neg ? -v : v;
}

/** Continues numberAt past 2^53: the mantissa as hi·2^32 + lo (exact up to 19–20 digits). */
function wideNumber(b: Buffer, a: number, e: number, i: number, m: number, scale: number, dot: boolean, neg: boolean): number {
  let hi = Math.floor(m / TWO32);
  let lo = m - hi * TWO32;
  for (; i < e; i++) {
    const c = b[i];
    if (c >= 48 && c <= 57) {
      if (hi >= 429496729) return slowNumber(b, a, e); // hi·10 would pass 2^32
      lo = lo * 10 + (c - 48);
      const carry = Math.floor(lo / TWO32);
      lo -= carry * TWO32;
      hi = hi * 10 + carry;
      if (dot) scale++;
    } else if (c === 46 && !dot) dot = true;
    else return slowNumber(b, a, e);
  }
  if (scale > 22) return slowNumber(b, a, e);
  const v = scale === 0 ? hi * TWO32 + lo : correctlyRoundedQuotient(hi, lo, POW10[scale]);
  if (v !== v) return slowNumber(b, a, e);
  return neg ? -v : v;
}

/**
 * The double nearest to (hi·2^32 + lo) / d (d = 10^k, exact), or NaN when the residual is too
 * close to half an ulp to decide without more precision.
 */
function correctlyRoundedQuotient(hi: number, lo: number, d: number): number {
  const mh = hi * TWO32 + lo; // rounded mantissa
  const ml = hi * TWO32 - mh + lo; // exact: M = mh + ml
  let q = mh / d;
  for (let step = 0; step < 2; step++) {
    // r = M − q·d, with q·d as an exact sum ph + pl (Dekker's product).
    const ph = q * d;
    const pl = productError(q, d, ph);
    const r = mh - ph - pl + ml;
    f64[0] = q;
    const expBits = u32[1] >>> 20;
    if ((u32[1] & 0xfffff) === 0 && u32[0] === 0) return NaN; // a power of two: uneven neighbours
    u32[1] = (expBits - 52) << 20;
    u32[0] = 0;
    const half = (f64[0] * d) / 2; // half an ulp of q, times d
    const ar = r < 0 ? -r : r;
    if (ar < half * (1 - 1e-9)) return q;
    if (ar <= half * (1 + 1e-9)) return NaN; // too close to the midpoint to decide here
    f64[0] = q; // one ulp towards the exact quotient
    if (r > 0) {
      if (u32[0] === 0xffffffff) { u32[0] = 0; u32[1]++; } else u32[0]++;
    } else {
      if (u32[0] === 0) { u32[0] = 0xffffffff; u32[1]--; } else u32[0]--;
    }
    q = f64[0];
  }
  return NaN;
}

const SPLITTER = 134217729; // 2^27 + 1

/** The rounding error of p = x·y (so x·y = p + error exactly), by Dekker's splitting. */
function productError(x: number, y: number, p: number): number {
  let t = SPLITTER * x;
  const xh = t - (t - x), xl = x - xh;
  t = SPLITTER * y;
  const yh = t - (t - y), yl = y - yh;
  return xh * yh - p + xh * yl + xl * yh + xl * yl;
}

function slowNumber(b: Buffer, a: number, e: number): number {
  const v = +latin1(b, a, e);
  return v - v === 0 ? v : NaN;
}

/** Bytes b[a, e) of a Buffer as a string, one character per byte (exact for ASCII). */
export function latin1(b: Buffer, a: number, e: number): string {
  return (b as unknown as { latin1Slice(a: number, e: number): string }).latin1Slice(a, e);
}

/** Bytes b[a, e) decoded as UTF-8 (ASCII takes the quick latin1 path). */
export function utf8(b: Buffer, a: number, e: number): string {
  for (let i = a; i < e; i++) if (b[i] >= 0x80) return b.toString("utf8", a, e);
  return latin1(b, a, e);
}
