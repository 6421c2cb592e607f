/**
 * Numbers and text straight from a file's bytes, for the readers' fast paths: no string is made
 * for a number, and the result is always exactly what Number(text) gives.
 */

const POW10 = Array.from({ length: 23 }, (_, k) => Number(`1e${k}`));


/**
 * The number written in bytes b[a, e) (ASCII, spaces around it allowed), NaN if it is not a
 * finite one; always exactly Number(text). See parseNumber for how.
 */
export function numberAt(b: Buffer, a: number, e: number): number {
  while (a < e && b[a] === 32) a++;
  while (e > a && b[e - 1] === 32) e--;
  if (a >= e) return NaN;
  const v = parseNumber(b, a, e);
  if (parsedEnd === e) return v;
  const x = +latin1(b, a, e); // text a number does not start with (hex, ...): Number decides
  return x - x === 0 ? x : NaN;
}

/** Where the last parseNumber stopped: the index after the number's text. */
export let parsedEnd = 0;

/**
 * The number whose text starts at b[a] (before e), reading as far as it goes (parsedEnd tells
 * where it stopped); NaN when there is no number there. Exactly Number(text):
 *  - plain decimals (`-12.345`) with at most 15 significant digits and 22 decimals: digits /
 *    10^k, both exact doubles, so the one division rounds correctly (Clinger's fast path);
 *  - 16 or 17 significant digits (what `String(x)` writes for most doubles): the digits held
 *    exactly as a sum of two doubles and divided correctly rounded (see
 *    correctlyRoundedQuotient); a value too close to a rounding midpoint goes to Number;
 *  - exponents, more digits, anything else: Number on the text.
 * Runs of four digits are read as one 32-bit word and turned into their value with a few
 * integer operations (most of the time here went to handling one byte at a time).
 */
export function parseNumber(b: Buffer, a: number, e: number): number {
  if (b !== viewed) {
    viewed = b;
    view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  }
  let i = a;
  const neg = b[i] === 45;
  if (neg || b[i] === 43) i++;
  const first = i;
  let dotAt = -1;
  // Leading zeros (and a dot among them) are no significant digits.
  for (; i < e; i++) {
    const c = b[i];
    if (c === 46 && dotAt < 0) dotAt = i;
    else if (c !== 48) break;
  }
  // The significant digits: the first 8 in hi, the next (up to 9) in lo, nd in all.
  let hi = 0, lo = 0, nd = 0;
  for (;;) {
    if (i + 4 <= e && (nd <= 4 || (nd >= 8 && nd <= 13))) {
      const x = view.getUint32(i, true);
      if ((x & 0xf0f0f0f0) === 0x30303030 && ((x + 0x06060606) & 0xf0f0f0f0) === 0x30303030) {
        let v = x - 0x30303030; // four digits, the first in the lowest byte
        v = (v * 10 + (v >>> 8)) & 0x00ff00ff;
        v = (v * 100 + (v >>> 16)) & 0xffff;
        if (nd <= 4) hi = hi * 10000 + v;
        else lo = lo * 10000 + v;
        nd += 4;
        i += 4;
        continue;
      }
    }
    if (i >= e) break;
    const c = b[i] - 48;
    if (c >>> 0 <= 9) {
      // (c >>> 0 turns a negative c, a byte below '0', into a large number: one comparison)
      if (nd < 8) hi = hi * 10 + c;
      else if (nd < 17) lo = lo * 10 + c;
      else return slowFrom(b, a, i, e);
      nd++;
    } else if (c === -2 && dotAt < 0) dotAt = i;
    else break;
    i++;
  }
  if (i < e && (b[i] === 101 || b[i] === 69)) return slowFrom(b, a, i, e); // an exponent
  parsedEnd = i;
  if (i - first - (dotAt < 0 ? 0 : 1) === 0) return NaN; // no digit
  const scale = dotAt < 0 ? 0 : i - dotAt - 1;
  if (scale > 22) return slowFrom(b, a, i, e);
  let v: number;
  // hi·10^k (k <= 9) is exact: hi < 2^27 and 5^k < 2^21, so the product has at most 48 significant bits.
  const p = nd <= 8 ? hi : hi * POW10[nd - 8];
  if (nd <= 15) {
    const m = p + lo; // below 10^15: exact
    v = scale === 0 ? m : m / POW10[scale];
  } else {
    // M = p + lo = mh + ml exactly (Knuth's two-sum).
    const mh = p + lo;
    const t = mh - p;
    const ml = p - (mh - t) + (lo - t);
    v = scale === 0 ? mh + ml : correctlyRoundedQuotient(mh, ml, scale);
    if (v !== v) return slowFrom(b, a, i, e);
  }
  return neg ? -v : v;
}

/** The buffer parseNumber last read and a DataView on it (for its four-byte reads). */
let viewed: Buffer | null = null;
let view: DataView = new DataView(new ArrayBuffer(0));

/** Number() of the number text starting at a (its end found from i on: digits, '.', an exponent). */
function slowFrom(b: Buffer, a: number, i: number, e: number): number {
  while (i < e) {
    const c = b[i];
    if ((c >= 48 && c <= 57) || c === 46) i++;
    else if ((c === 101 || c === 69) && i + 1 < e) {
      i++;
      if (b[i] === 45 || b[i] === 43) i++;
    } else break;
  }
  parsedEnd = i;
  const v = +latin1(b, a, i);
  return v - v === 0 ? v : NaN;
}

/**
 * The double nearest to M / 10^k, M = mh + ml exactly (below 2^64): the quotient q = mh / 10^k
 * is corrected by the exact residual r = M − q·10^k (an error-free product), and q + r/10^k is
 * rounded once. Rounding is monotone, so when q + δ rounds to the same double for δ a hair
 * below and a hair above r/10^k, that double is the correctly rounded quotient; otherwise the
 * value lies too close to a midpoint to decide here: NaN (the caller falls back to Number).
 */
function correctlyRoundedQuotient(mh: number, ml: number, k: number): number {
  const d = POW10[k];
  const q = mh / d;
  // q·d = ph + pl exactly (Dekker's product, d pre-split)
  const ph = q * d;
  let t = SPLITTER * q;
  const qh = t - (t - q), ql = q - qh;
  const dh = POW10_HI[k], dl = POW10_LO[k];
  const pl = qh * dh - ph + qh * dl + ql * dh + ql * dl;
  const delta = (mh - ph - pl + ml) / d;
  const a = q + delta * (1 - 2 ** -20);
  t = q + delta * (1 + 2 ** -20);
  return a === t ? a : NaN;
}

const SPLITTER = 134217729; // 2^27 + 1
const POW10_HI = POW10.map((d) => {
  const t = SPLITTER * d;
  return t - (t - d);
});
const POW10_LO = POW10.map((d, k) => d - POW10_HI[k]);

/** Bytes b[a, e) of a Buffer as a string, one character per byte (exact for ASCII). */
export function latin1(b: Buffer, a: number, e: number): string {
  return (b as unknown as { latin1Slice(a: number, e: number): string }).latin1Slice(a, e);
}

/** Bytes b[a, e) decoded as UTF-8 (ASCII takes the quick latin1 path). */
export function utf8(b: Buffer, a: number, e: number): string {
  for (let i = a; i < e; i++) if (b[i] >= 0x80) return b.toString("utf8", a, e);
  return latin1(b, a, e);
}
