/** Shared set-up of the manager tests: a fresh workspace per test file, a quiet config. */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after } from "node:test";
import { loadConfig, type Config, ExperimentManager, type ExperimentManagerOptions } from "@cbkit/common";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";

export function tempWorkspace(label: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `cbkit-${label}-`));
}

/**
 * What a test file opens (managers) and spawns (child processes), cleaned up after the file: the
 * managers' resources and the managers closed, live children killed, the workspace removed.
 */
export function cleanedUpAfter(ws: string): { opened: ExperimentManager[]; children: import("node:child_process").ChildProcess[] } {
  const tracked = { opened: [] as ExperimentManager[], children: [] as import("node:child_process").ChildProcess[] };
  after(async () => {
    for (const m of tracked.opened) await m.cleanResource().catch(() => undefined);
    for (const m of tracked.opened) await m.close().catch(() => undefined);
    for (const c of tracked.children) if (c.exitCode === null) c.kill("SIGKILL");
    fs.rmSync(ws, { recursive: true, force: true });
  });
  return tracked;
}

export function testConfig(workspace: string, overrides: Partial<Config> = {}): Config {
  const c = loadConfig();
  c.workspace = workspace; // absolute: used as is
  Object.assign(c, overrides);
  return c;
}

export function manager(config: Config, id: string, options: ExperimentManagerOptions = {}): Promise<ExperimentManager> {
  return ExperimentManager.create(config, id, { log: () => undefined, ...options });
}

/** A few joined records in the original's shape (uniform random logging over 9-feature contexts). */
export function syntheticJoined(n: number, seedLabel = "s"): {
  reward: number; event_id: string; action: number; action_prob: number; model_id: string; observation: number[]; sample_prob: number;
}[] {
  const out = [];
  for (let i = 0; i < n; i++) {
    const label = (i % 3) + 1;
    const observation = Array.from({ length: 9 }, (_, j) => ((i * 7 + j * 13) % 17) / 17 - 0.5 + (j === 0 ? label : 0));
    const action = ((i * 5) % 7) + 1;
    out.push({
      reward: action === label ? 1 : 0,
      event_id: `${seedLabel}-${i}`,
      action,
      action_prob: 1 / 7,
      model_id: "not-apply-to-warm-start",
      observation,
      sample_prob: ((i * 37) % 100) / 100 + 0.005,
    });
  }
  return out;
}

export { pidAlive } from "@cbkit/common/util";

export async function waitFor(cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Every decision line under a folder (the endpoint's decision log). */
export function readDecisionLog(dir: string): { event_id: string; model_id: string; action: number }[] {
  const out: { event_id: string; model_id: string; action: number }[] = [];
  const walk = (d: string) => {
    if (!fs.existsSync(d)) return;
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith(".jsonl")) {
        for (const line of fs.readFileSync(p, "utf8").split("\n")) if (line) out.push(JSON.parse(line));
      }
    }
  };
  walk(dir);
  return out;
}

/** Four clients ask the endpoint for actions while `deploys` run; returns what they saw. */
export async function underLoad(m: ExperimentManager, obs: number[], deploys: () => Promise<void>): Promise<{ errors: string[]; count: number; seen: Set<string> }> {
  const predictor = m.predictor;
  let stop = false;
  const errors: string[] = [];
  let count = 0;
  const seen = new Set<string>();
  const workers = Array.from({ length: 4 }, async () => {
    while (!stop) {
      try {
        const r = await predictor.getAction(obs);
        seen.add(r.modelId);
        count++;
      } catch (err) {
        errors.push(String(err));
      }
    }
  });
  try {
    await new Promise((r) => setTimeout(r, 100));
    await deploys();
    await new Promise((r) => setTimeout(r, 100));
  } finally {
    stop = true;
    await Promise.all(workers);
  }
  return { errors, count, seen };
}

/**
 * Records a training step of m's experiment stuck InProgress on model `stuckId` (a copy of the last
 * trained model with `fields` over it, e.g. its owner), as an owner that was killed or runs
 * elsewhere leaves it.
 */
export async function stuckTraining(m: ExperimentManager, stuckId: string, fields: Record<string, unknown>): Promise<void> {
  const records = m.platform.records;
  const id = m.toJSON().experiment_id;
  const model = await m.getModelRecord(m.lastTrainedModelId as string);
  await records.create("model", id, stuckId, { ...model, model_id: stuckId, train_state: "InProgress", ...fields } as never);
  const exp = (await records.get("experiment", id, id))!;
  await records.update("experiment", id, id, {
    ...exp.value,
    training_workflow_metadata: { ...exp.value.training_workflow_metadata, training_state: "TRAINING", next_model_to_train_id: stuckId },
  }, exp.version);
}
