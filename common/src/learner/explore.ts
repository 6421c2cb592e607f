/**
 * Exploration: turning per-action cost scores into a probability mass function (pmf) over the K
 * actions. Every function writes a full pmf summing to 1 into `out`.
 */

/** Index of the smallest score; ties go to the lowest index (as VW's cost-sensitive argmin). */
export function argmin(scores: ArrayLike<number>, k: number): number {
  let best = 0;
  let bs = scores[0];
  for (let a = 1; a < k; a++) if (scores[a] < bs) { bs = scores[a]; best = a; }
  return best;
}

/** epsilon-greedy: 1 − ε + ε/K on the greedy action, ε/K elsewhere. */
export function egreedyPmf(greedy: number, k: number, epsilon: number, out: Float64Array): void {
  const e = epsilon / k;
  for (let a = 0; a < k; a++) out[a] = e;
  out[greedy] += 1 - epsilon;
}

/** softmax over negated costs: p_a ∝ exp(−λ (s_a − min s)). */
export function softmaxPmf(scores: ArrayLike<number>, k: number, lambda: number, out: Float64Array): void {
  let min = Infinity;
  for (let a = 0; a < k; a++) if (scores[a] < min) min = scores[a];
  let z = 0;
  for (let a = 0; a < k; a++) z += out[a] = Math.exp(-lambda * (scores[a] - min));
  for (let a = 0; a < k; a++) out[a] /= z;
}

/**
 * SquareCB's inverse gap weighting: p_a = 1 / (K + γ (s_a − s_best)) for a ≠ best, the rest of the
 * mass on the best action. γ grows with the number of examples, so exploration narrows to actions
 * whose predicted cost is close to the best one.
 */
export function squarecbPmf(scores: ArrayLike<number>, k: number, gamma: number, out: Float64Array): void {
  const best = argmin(scores, k);
  const sb = scores[best];
  let rest = 0;
  for (let a = 0; a < k; a++) {
    if (a === best) continue;
    rest += out[a] = 1 / (k + gamma * (scores[a] - sb));
  }
  out[best] = 1 - rest;
}

/**
 * Raises every probability below `floor` to it and scales the others down so the sum stays 1
 * (VW's enforce_minimum_probability). With `includeZeros` false, actions with probability 0 stay
 * at 0 (VW's online cover floors only its support). No-op for floor <= 0.
 */
export function floorPmf(out: Float64Array, k: number, floor: number, includeZeros = true): void {
  if (!(floor > 0)) return;
  let support = k;
  if (!includeZeros) for (let a = 0; a < k; a++) if (out[a] === 0) support--;
  if (floor * support >= 0.999) {
    for (let a = 0; a < k; a++) if (includeZeros || out[a] > 0) out[a] = 1 / support;
    return;
  }
  for (let iter = 0; iter < k; iter++) {
    let touched = 0, untouched = 0;
    for (let a = 0; a < k; a++) {
      if ((includeZeros || out[a] > 0) && out[a] <= floor) touched += floor;
      else untouched += out[a];
    }
    if (touched === 0 || untouched === 0) return;
    const ratio = (1 - touched) / untouched;
    let again = false;
    for (let a = 0; a < k; a++) {
      if ((includeZeros || out[a] > 0) && out[a] <= floor) out[a] = floor;
      else if ((out[a] *= ratio) < floor && out[a] > 0) again = true;
    }
    if (!again) return;
  }
}

/** Renormalizes so the entries sum to exactly 1 up to rounding (guards accumulated error). */
export function normalizePmf(out: Float64Array, k: number): void {
  let s = 0;
  for (let a = 0; a < k; a++) s += out[a];
  if (s !== 1) for (let a = 0; a < k; a++) out[a] /= s;
}

/** A Poisson(1) draw from a uniform u in [0, 1), by inverting the CDF. */
export function poisson1FromUniform(u: number): number {
  let k = 0;
  let pk = Math.exp(-1);
  let cdf = pk;
  while (u >= cdf && k < 20) {
    k++;
    pk /= k;
    cdf += pk;
  }
  return k;
}
