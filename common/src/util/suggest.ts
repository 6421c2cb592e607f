/** Did-you-mean suggestions for a misspelt name (config keys and values, estimator names, ...). */

/** Edit distance (insertions, deletions, substitutions). */
export function editDistance(a: string, b: string): number {
  const d = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0];
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = d[j];
      d[j] = Math.min(d[j] + 1, d[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return d[b.length];
}

/**
 * The candidate closest to `word` (case-insensitive) when it is close enough to be a typo — at
 * most a third of its letters (at least one) differ — else undefined.
 */
export function closestName(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const dd = editDistance(word.toLowerCase(), c.toLowerCase());
    if (dd < bestD) {
      bestD = dd;
      best = c;
    }
  }
  return best !== undefined && bestD <= Math.max(1, Math.floor(best.length / 3)) ? best : undefined;
}

/** " (did you mean X?)" when a candidate is close to `word`, else "". */
export function didYouMean(word: string, candidates: readonly string[]): string {
  const best = closestName(word, candidates);
  return best === undefined ? "" : ` (did you mean ${best}?)`;
}
