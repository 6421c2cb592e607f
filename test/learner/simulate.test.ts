import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { simulate } from "@cbkit/sim_app";
import { main } from "@cbkit/sim_app/cli";
import { JoinedRecord } from "@cbkit/common";
import { writeJoinedCsv } from "@cbkit/common/data";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "cbkit-cli-"));
process.on("exit", () => fs.rmSync(tmp, { recursive: true, force: true }));

function capture() {
  const out: string[] = [], err: string[] = [];
  return { out, err, o: (s: string) => out.push(s), e: (s: string) => err.push(s) };
}

test("simulate is deterministic by seed and logs valid probabilities", async () => {
  const o = { learner: { explorationPolicy: "egreedy" as const, epsilon: 0.001, minProbability: 0.001, featureMap: "bins" as const }, loops: 3, batchSize: 200 };
  const a = await simulate({ ...o, seed: 4 });
  const b = await simulate({ ...o, seed: 4 });
  const c = await simulate({ ...o, seed: 5 });
  assert.deepEqual(a.loopRewards, b.loopRewards);
  assert.notDeepEqual(a.loopRewards, c.loopRewards);
  assert.equal(a.loopRewards.length, 3);
  assert.ok(a.minLoggedProb >= 0.001 - 1e-12);
  assert.ok(a.trainedRows[0] > 60 && a.trainedRows[0] < 100, "the first model trains on the warm start's train split");
});

test("bandits simulate --json prints per-loop rewards per seed", async () => {
  const c = capture();
  const code = await main(["simulate", "--seeds", "1,2", "--loops", "2", "--batch-size", "100", "--feature-map", "bins", "--json"], c.o, c.e);
  assert.equal(code, 0, c.err.join("\n"));
  const j = JSON.parse(c.out.join("\n"));
  assert.equal(j.seeds.length, 2);
  assert.equal(j.seeds[0].loopRewards.length, 2);
  assert.equal(j.learner.featureMap, "bins");
});

test("bandits reports bad options clearly", async () => {
  for (const [args, re] of [
    [["simulate", "--epsilon", "abc"], /--epsilon: must be a number/],
    [["simulate", "--policy", "thompson"], /--policy: must be one of egreedy/],
    [["simulate", "--loops", "0"], /--loops must be an integer >= 1/],
    [["simulate", "--seeds", "a-b"], /--seeds must be/],
    [["simulate", "--bogus"], /Unknown option '--bogus'/],
    [["evaluate", "--data", "x.csv"], /exactly one target policy/],
    [["frobnicate"], /unknown command/],
  ] as [string[], RegExp][]) {
    const c = capture();
    const code = await main(args, c.o, c.e);
    assert.equal(code, 2, args.join(" "));
    assert.match(c.err.join("\n"), re);
  }
  const h = capture();
  assert.equal(await main(["evaluate", "--help"], h.o, h.e), 0);
  assert.match(h.out.join("\n"), /--estimators/);
});

test("bandits train then evaluate a logged file against the model and per-row actions", async () => {
  const recs: JoinedRecord[] = [];
  for (let i = 0; i < 400; i++) {
    const x = [Math.sin(i), Math.cos(i * 1.7)];
    const action = (i % 3) + 1;
    const best = x[0] > 0 ? 1 : 2;
    recs.push({ reward: action === best ? 1 : 0, event_id: `e${i}`, action, action_prob: 1 / 3, model_id: "w", observation: x, sample_prob: 0 });
  }
  const data = path.join(tmp, "logged.csv");
  await writeJoinedCsv(data, recs);
  const c = capture();
  assert.equal(await main(["train", "--data", data, "--out", path.join(tmp, "m1"), "--num-arms", "3", "--num-features", "2", "--json"], c.o, c.e), 0, c.err.join("\n"));
  const first = JSON.parse(c.out.join("\n"));
  assert.equal(first.used, 400);
  assert.match(first.modelId, /^m1-[0-9a-z]{12}$/, "the default id: the --out folder's name, made unique");
  const w = capture();
  assert.equal(await main(["train", "--data", data, "--model", path.join(tmp, "m1"), "--out", path.join(tmp, "m2"), "--json"], w.o, w.e), 0, w.err.join("\n"));
  const wj = JSON.parse(w.out.join("\n"));
  assert.equal(wj.parentModelId, first.modelId);
  assert.equal(wj.examplesSeen, 800);
  const e = capture();
  assert.equal(await main(["evaluate", "--data", data, "--model", path.join(tmp, "m2"), "--estimators", "dr,ips", "--bootstrap", "50"], e.o, e.e), 0, e.err.join("\n"));
  assert.match(e.out.join("\n"), /dr .*\n|ips/);
  const acts = path.join(tmp, "actions.txt");
  fs.writeFileSync(acts, recs.map((r) => (r.observation[0] > 0 ? 1 : 2)).join("\n"));
  const a = capture();
  assert.equal(await main(["evaluate", "--data", data, "--actions", acts, "--json", "--bootstrap", "0"], a.o, a.e), 0, a.err.join("\n"));
  const aj = JSON.parse(a.out.join("\n"));
  assert.ok(Math.abs(aj.estimates.ips.value) < 0.2, `the best policy's cost is near 0, got ${aj.estimates.ips.value}`);
});

test("bandits evaluate reads VW --eval text and uses its evaluated actions", async () => {
  const lines: string[] = [];
  for (let i = 0; i < 200; i++) {
    const x = [Math.sin(i), Math.cos(i)];
    const a = (i % 3) + 1;
    const best = x[0] > 0 ? 1 : 2;
    lines.push(`${best} ${a}:${a === best ? 0 : 1}:0.3333333333333333 | 1:${x[0]} 2:${x[1]}`);
  }
  const f = path.join(tmp, "eval.vw");
  fs.writeFileSync(f, lines.join("\n") + "\n");
  const c = capture();
  assert.equal(await main(["evaluate", "--data", f, "--actions", "vw", "--estimators", "ips,dr", "--bootstrap", "0", "--json"], c.o, c.e), 0, c.err.join("\n"));
  const j = JSON.parse(c.out.join("\n"));
  assert.equal(j.rows, 200);
  assert.equal(j.estimates.ips.value, 0, "the evaluated actions are always right: IPS cost 0");
});
