/**
 * The continual-learning loop of @cbkit/common (experiment/loop.ts) and its deploy gate
 * (experiment/gate.ts) with a client application that is not the shuttle: the loop asks the app
 * only for users, rewards and warm-start data.
 */
import { test, after } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { gatePasses, loopSettings, runContinualLearning, type ClientApplication, type JoinedRecord } from "@cbkit/common";
import { checkGateRule, checkGateData, GATE_DATA } from "@cbkit/common/experiment";
import { DEPLOY_GATE_RULES, WORKFLOW_FIELDS } from "@cbkit/common/config";
import { Rng } from "@cbkit/common/util";
import { splitValueOf } from "@cbkit/common/data";
import { tempWorkspace, testConfig } from "./helpers";

const ws = tempWorkspace("loop");
after(() => fs.rmSync(ws, { recursive: true, force: true }));

interface User {
  context: number[];
  best: number;
}

/**
 * A made-up app with 7 actions and 9 features: the best action is the index of the context's
 * largest feature among the first 7, plus 1. It counts what the loop asks of it.
 */
class ArgmaxApp implements ClientApplication<User> {
  readonly asked = { users: 0, rewards: 0, warmStart: [] as number[] };
  readonly rewardsGiven: number[] = [];
  private readonly rng = new Rng(11);

  nextUser(): User {
    this.asked.users++;
    const context = Array.from({ length: 9 }, () => this.rng.next());
    const first7 = context.slice(0, 7);
    return { context, best: first7.indexOf(Math.max(...first7)) + 1 };
  }

  rewardFor(user: User, action: number): number {
    this.asked.rewards++;
    const r = action === user.best ? 1 : 0;
    this.rewardsGiven.push(r);
    return r;
  }

  warmStartData(count: number): JoinedRecord[] {
    this.asked.warmStart.push(count);
    return Array.from({ length: count }, (_, i) => {
      const u = this.nextUser();
      const action = (i % 7) + 1;
      const eventId = `argmax-warm-${i}`;
      return {
        reward: action === u.best ? 1 : 0,
        event_id: eventId,
        action,
        action_prob: 1 / 7,
        model_id: "warm-start",
        observation: u.context,
        sample_prob: splitValueOf(eventId),
      };
    });
  }
}

test("the gate's rules are the config schema's deploy_gate list, and each one decides", () => {
  assert.deepEqual([...DEPLOY_GATE_RULES], [...(WORKFLOW_FIELDS.deploy_gate.enum ?? [])]);
  const s = (value: number, lower: number, upper: number) => ({ value, ci: { lower, upper, method: "bootstrap" as const } });
  for (const rule of DEPLOY_GATE_RULES) {
    assert.equal(checkGateRule(rule), rule);
    assert.equal(gatePasses(rule, s(0.1, 0.05, 0.12), s(0.2, 0.18, 0.22)), true, `${rule}: a clearly better challenger`);
  }
  assert.throws(() => checkGateRule("best", "--gate"), /^RangeError: --gate must be ci, point or always, got 'best'$/);
  assert.deepEqual([...GATE_DATA], ["holdout", "latest"]);
  assert.throws(() => checkGateData("all", "--gate-on"), /^RangeError: --gate-on must be holdout or latest, got 'all'$/);
});

test("loopSettings refuses a join ratio that leaves a split empty, naming the config key", () => {
  const config = testConfig(ws);
  assert.throws(() => loopSettings(config, { ratio: 1 }), /ratio must be a number strictly between 0 and 1 \(config\.yaml workflow\.join_ratio\), got 1/);
  assert.throws(() => loopSettings(config, { gate: "best" as "ci" }), /gate must be ci, point or always, got 'best'/);
});

test("the loop runs any client application: warm start, loops through the endpoint, rewards from the app", async () => {
  const config = testConfig(ws);
  const app = new ArgmaxApp();
  const rows: number[] = [];
  const run = await runContinualLearning(config, app, {
    experimentId: "loop-argmax",
    loops: 2,
    warmStart: 120,
    settings: { batchSize: 90, requestBatch: 30, concurrency: 2 },
    onLoop: (row) => rows.push(row.loop),
  });
  assert.deepEqual(app.asked.warmStart, [120], "warm-start data asked once, with the count");
  assert.equal(app.asked.users, 120 + 2 * 90, "the warm start's users, then one per interaction");
  assert.equal(app.asked.rewards, 2 * 90, "one reward per decision the endpoint made");
  // With two concurrent request batches, the app is asked in completion order and the loop keeps
  // request order: the same rewards, not necessarily in the same sequence.
  const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
  assert.deepEqual(sorted(run.rewards), sorted(app.rewardsGiven), "the loop records the app's rewards");
  assert.deepEqual(rows, [1, 2]);
  for (const row of run.loops) {
    assert.equal(row.joined.train + row.joined.eval, 90, "every decision joined with its reward");
    assert.equal(row.deployed, gatePasses(run.gate, row.challenger, row.champion));
    assert.match(row.challengerId, /^loop-argmax-model-/);
  }
  assert.equal(run.gate, config.workflow.deploy_gate);
  assert.equal(run.workspace, ws);
  assert.equal(fs.existsSync(path.join(ws, "endpoints", "loop-argmax.json")), false, "the endpoint was stopped");
});
