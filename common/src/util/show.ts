/**
 * A value as an error message shows it. JSON.stringify turns NaN and ±Infinity into `null` (and
 * undefined into nothing), so "got null" hid the real problem: numbers are shown as themselves.
 * Long renderings are cut, and a value that cannot be rendered (nested too deep, circular) is
 * named by its type.
 */
export function showValue(v: unknown, maxLength = 80): string {
  if (typeof v === "number") return Object.is(v, -0) ? "-0" : String(v); // NaN, Infinity, -Infinity as such
  if (v === undefined) return "undefined";
  if (typeof v === "bigint") return `${v}n`;
  if (typeof v === "function" || typeof v === "symbol") return typeof v;
  let text: string;
  try {
    text = JSON.stringify(v, (_k, x: unknown) => (typeof x === "number" && !Number.isFinite(x) ? String(x) : x));
  } catch {
    return Array.isArray(v) ? "an array that cannot be shown" : `a value of type ${typeof v} that cannot be shown`;
  }
  return text.length > maxLength ? `${text.slice(0, maxLength - 3)}...` : text;
}
