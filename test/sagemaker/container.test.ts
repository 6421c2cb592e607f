/**
 * The container as SageMaker runs it, without Docker: the image layout (`common/dist` + the
 * entrypoint, no node_modules) staged into a temporary folder, `entrypoint.sh train|serve` run as
 * plain processes over a temporary /opt/ml tree (SM_ROOT).
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { spawn } from "node:child_process";
import type { JoinedRecord } from "@cbkit/common";
import { writeJoinedCsv } from "@cbkit/common/data";
import { parseScore } from "@cbkit/common/ope";
import { Rng } from "@cbkit/common/util";

const PROJECT = path.resolve(__dirname, "..", "..", "..");

function run(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn("sh", args, { env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/** Joined records of a 3-armed task where arm (argmax of the first three features) + 1 pays. */
function records(n: number, seed: number): JoinedRecord[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, (_, i) => {
    const observation = Array.from({ length: 4 }, () => Math.round(rng.next() * 1000) / 1000);
    const best = observation.slice(0, 3).indexOf(Math.max(...observation.slice(0, 3))) + 1;
    const action = 1 + rng.int(3);
    return { reward: action === best ? 1 : 0, event_id: `e-${seed}-${i}`, action, action_prob: 1 / 3, model_id: "not-apply-to-warm-start", observation, sample_prob: rng.next() };
  });
}

function writeJson(file: string, value: unknown): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(value));
}

describe("container entry points over a temporary /opt/ml tree", () => {
  let tmp: string;
  let app: string;
  let entry: string;
  const hyperparameters = { num_arms: "3", num_features: "4", exploration_policy: "egreedy", epsilon: "0.1", cfa_type: "dr", seed: "5" };

  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "cbkit-container-"));
    // The image's /opt/program: the compiled common package and the entrypoint, nothing else.
    app = path.join(tmp, "program");
    fs.mkdirSync(path.join(app, "common"), { recursive: true });
    fs.cpSync(path.join(PROJECT, "common", "dist"), path.join(app, "common", "dist"), { recursive: true });
    fs.copyFileSync(path.join(PROJECT, "common", "package.json"), path.join(app, "common", "package.json"));
    entry = path.join(app, "entrypoint.sh");
    fs.copyFileSync(path.join(PROJECT, "docker", "entrypoint.sh"), entry);
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  const env = (root: string, extra: Record<string, string> = {}) => ({ CBKIT_APP_DIR: app, SM_ROOT: root, ...extra });

  it("training writes a model; evaluation (chosen by hyperparameter) writes score.json", async () => {
    const train = path.join(tmp, "train-job");
    writeJson(path.join(train, "input/config/hyperparameters.json"), { ...hyperparameters, model_id: "exp-c-model-000000000001", cbkit_job: "train" });
    await writeJoinedCsv(path.join(train, "input/data/training/part-0.csv"), records(300, 1));
    const trained = await run([entry, "train"], env(train));
    assert.equal(trained.code, 0, trained.stderr);
    assert.match(trained.stdout, /Model learned using 300 training experiences/);
    assert.ok(fs.readdirSync(path.join(train, "model")).length >= 2, "model files written to /opt/ml/model");
    assert.ok(!fs.existsSync(path.join(train, "output/failure")));

    const evaluate = path.join(tmp, "eval-job");
    writeJson(path.join(evaluate, "input/config/hyperparameters.json"), { ...hyperparameters, cbkit_job: "evaluate" });
    await writeJoinedCsv(path.join(evaluate, "input/data/evaluation/part-0.csv"), records(200, 2));
    fs.cpSync(path.join(train, "model"), path.join(evaluate, "input/data/pretrained_model"), { recursive: true });
    const evaluated = await run([entry, "train"], env(evaluate));
    assert.equal(evaluated.code, 0, evaluated.stderr);
    const score = parseScore(fs.readFileSync(path.join(evaluate, "model/score.json"), "utf8"), "score.json");
    assert.equal(score.estimator, "dr");
    assert.equal(score.n, 200);
    assert.ok(score.value >= 0 && score.value <= 1 && score.ci.lower <= score.value && score.value <= score.ci.upper);
  });

  it("env CBKIT_JOB picks the job; failures land in /opt/ml/output/failure with a non-zero exit", async () => {
    const bad = path.join(tmp, "bad-job");
    writeJson(path.join(bad, "input/config/hyperparameters.json"), { ...hyperparameters, num_arms: "x", model_id: "m" });
    await writeJoinedCsv(path.join(bad, "input/data/training/part-0.csv"), records(10, 3));
    const failed = await run([entry, "train"], env(bad, { CBKIT_JOB: "train" }));
    assert.notEqual(failed.code, 0);
    assert.match(fs.readFileSync(path.join(bad, "output/failure"), "utf8"), /num_arms/);

    const noData = path.join(tmp, "eval-no-data");
    writeJson(path.join(noData, "input/config/hyperparameters.json"), hyperparameters);
    const noEval = await run([entry, "train"], env(noData, { CBKIT_JOB: "evaluate" }));
    assert.notEqual(noEval.code, 0);
    assert.match(fs.readFileSync(path.join(noData, "output/failure"), "utf8"), /pretrained_model/);

    const unknown = path.join(tmp, "unknown-job");
    writeJson(path.join(unknown, "input/config/hyperparameters.json"), { cbkit_job: "predict" });
    const odd = await run([entry, "train"], env(unknown));
    assert.equal(odd.code, 2);
    assert.match(fs.readFileSync(path.join(unknown, "output/failure"), "utf8"), /unknown job 'predict'/);
  });

  it("serving answers GET /ping and POST /invocations from /opt/ml/model", async () => {
    const modelDir = path.join(tmp, "train-job", "model");
    const stateFile = path.join(tmp, "serve-state.json");
    const child = spawn("sh", [entry, "serve"], {
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", CBKIT_APP_DIR: app, SM_ROOT: path.join(tmp, "serve-root"), MODEL_DIR: modelDir, HOST: "127.0.0.1", PORT: "0", STATE_FILE: stateFile },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    try {
      const deadline = Date.now() + 15_000;
      while (!fs.existsSync(stateFile)) {
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`server did not start: ${stderr}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      const { port } = JSON.parse(fs.readFileSync(stateFile, "utf8")) as { port: number };
      const base = `http://127.0.0.1:${port}`;
      assert.equal((await fetch(`${base}/ping`)).status, 200);
      const response = await fetch(`${base}/invocations`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-amzn-sagemaker-inference-id": "event-42" },
        body: JSON.stringify({ observation: [0.9, 0.1, 0.2, 0.5] }),
      });
      assert.equal(response.status, 200);
      const body = (await response.json()) as Record<string, unknown>;
      assert.ok([1, 2, 3].includes(body.action as number));
      assert.equal(body.event_id, "event-42");
      assert.equal(body.model_id, "exp-c-model-000000000001");
      assert.equal((body.action_probs as number[]).length, 3);
      const bad = await fetch(`${base}/invocations`, { method: "POST", headers: { "content-type": "application/json" }, body: "{not json" });
      assert.ok(bad.status >= 400 && bad.status < 500);
      assert.equal((await fetch(`${base}/ping`)).status, 200, "still up after a bad request");
    } finally {
      child.kill("SIGTERM");
      await new Promise((r) => child.once("close", r));
    }
  });
});

describe("the image's base (issue 9.9)", () => {
  it("is a supported Node.js LTS (22 or 24), pinned by digest, and docs/sagemaker.md names the same one", () => {
    const dockerfile = fs.readFileSync(path.join(PROJECT, "docker", "Dockerfile"), "utf8");
    const froms = dockerfile.split("\n").filter((l) => /^FROM\s/i.test(l));
    assert.equal(froms.length, 1, "one stage");
    const base = /^FROM\s+(node:(\d+)-slim@sha256:[0-9a-f]{64})\s*$/.exec(froms[0]);
    assert.ok(base, `FROM pins node:<version>-slim by digest: ${froms[0]}`);
    assert.ok(["22", "24"].includes(base[2]), `Node ${base[2]} is an LTS line still supported (20 ends April 2026)`);
    const docs = fs.readFileSync(path.join(PROJECT, "docs", "sagemaker.md"), "utf8");
    assert.ok(docs.includes(base[1]), "docs/sagemaker.md names the pinned image");
    assert.match(docs, /docker buildx imagetools inspect node:\d+-slim/, "docs say how to refresh the digest");
  });
});
