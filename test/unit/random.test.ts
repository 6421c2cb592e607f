import { test } from "node:test";
import assert from "node:assert/strict";
import { Rng, hash32, hashUnit, sampleIndex } from "@cbkit/common/util";

test("the same seed gives the same stream, another seed another", () => {
  const a = new Rng(42), b = new Rng(42), c = new Rng(43);
  const sa = Array.from({ length: 5 }, () => a.next());
  assert.deepEqual(sa, Array.from({ length: 5 }, () => b.next()));
  assert.notDeepEqual(sa, Array.from({ length: 5 }, () => c.next()));
  for (const x of sa) assert.ok(x >= 0 && x < 1);
});

test("uniform draws have mean 1/2 and int(n) covers [0, n)", () => {
  const r = new Rng("uniform");
  let sum = 0;
  const counts = [0, 0, 0];
  for (let i = 0; i < 30000; i++) { sum += r.next(); counts[r.int(3)]++; }
  assert.ok(Math.abs(sum / 30000 - 0.5) < 0.01);
  for (const c of counts) assert.ok(Math.abs(c / 30000 - 1 / 3) < 0.02);
});

test("hash32 matches MurmurHash3 reference values", () => {
  // Reference values for the empty string and seeds, from the algorithm's published test vectors.
  assert.equal(hash32("", 0), 0);
  assert.equal(hash32("", 1), 0x514e28b7);
  assert.equal(hashUnit("event-1"), hashUnit("event-1"));
  assert.notEqual(hash32("event-1"), hash32("event-2"));
});

test("sampleIndex follows the cumulative pmf", () => {
  assert.equal(sampleIndex([0.2, 0.3, 0.5], 0.1), 0);
  assert.equal(sampleIndex([0.2, 0.3, 0.5], 0.45), 1);
  assert.equal(sampleIndex([0.2, 0.3, 0.5], 0.99), 2);
  assert.throws(() => sampleIndex([0, 0], 0.5), /no positive mass/);
});
