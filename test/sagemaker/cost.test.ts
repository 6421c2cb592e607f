/**
 * What SageMaker mode says about cost before it bills (issue 16.14): the estimate of a run, the
 * notice of npm start and notebook 3, and the notebooks' notes beside every cell that starts
 * something billable. (The manager's one-time notice and the interrupt that stops a job are in
 * workflow.test.ts, against the fake control plane.)
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { spawnSync } from "node:child_process";
import YAML from "yaml";
import { parseConfig } from "@cbkit/common/config";
import { estimateSageMakerCost, formatCostEstimate, SAGEMAKER_PRICES, type SageMakerFleets } from "@cbkit/common/platform";
import { cloudCostNotice, workshopWork } from "@cbkit/sim_app/workshop";
import { workshopLoops } from "@cbkit/sim_app";

const ROOT = path.resolve(__dirname, "..", "..", "..");
const SHIPPED = fs.readFileSync(path.join(ROOT, "config.yaml"), "utf8");

/** The shipped config.yaml in SageMaker mode, with optional changes. */
function sageMakerConfig(change: (doc: Record<string, any>) => void = () => undefined) {
  const doc = YAML.parse(SHIPPED) as Record<string, any>;
  doc.local_mode = false;
  doc.soft_deployment = false;
  change(doc);
  return parseConfig(YAML.stringify(doc));
}

const SHIPPED_FLEETS: SageMakerFleets = { trainingInstanceType: "ml.m5.large", evaluationInstanceType: "ml.m5.large", hostingInstanceType: "ml.t2.medium", hostingInstanceCount: 1 };
const close = (actual: number | null, expected: number, what: string) => assert.ok(actual !== null && Math.abs(actual - expected) < 1e-6, `${what}: ${actual} vs ${expected}`);

describe("the cost of a SageMaker run, before it starts", () => {
  it("counts three jobs per loop: 15 loops are 47 jobs and up to 15 updates; 5 loops are 17 jobs", () => {
    assert.deepEqual(workshopWork(15), { trainingJobs: 16, evaluationJobs: 31, endpointCreates: 1, endpointUpdates: 15, joins: 15 });
    assert.deepEqual(workshopWork(5), { trainingJobs: 6, evaluationJobs: 11, endpointCreates: 1, endpointUpdates: 5, joins: 5 });
  });

  it("estimates hours, instance hours and dollars from the dated price table", () => {
    assert.deepEqual([SAGEMAKER_PRICES.region, SAGEMAKER_PRICES.asOf], ["us-east-1", "2025"]);
    // 47 jobs × 6 min + endpoint 8 min + 15 updates × 10 min + 15 joins × 5 min = 515 min.
    const fifteen = estimateSageMakerCost(SHIPPED_FLEETS, workshopWork(15));
    close(fifteen.hours, 515 / 60, "hours");
    close(fifteen.jobInstanceHours, (47 * 3) / 60, "job instance hours");
    close(fifteen.endpointInstanceHours, 515 / 60 + 150 / 60, "endpoint instance hours (the second fleet during updates too)");
    close(fifteen.usd.jobs, ((47 * 3) / 60) * 0.115, "jobs on ml.m5.large");
    close(fifteen.usd.endpoint, (515 / 60 + 150 / 60) * 0.056, "one ml.t2.medium");
    close(fifteen.endpointUsdPerDay, 0.056 * 24, "a forgotten endpoint per day");
    // The original's ml.c5.4xlarge: the same jobs cost seven times as much.
    const original = estimateSageMakerCost({ ...SHIPPED_FLEETS, trainingInstanceType: "ml.c5.4xlarge", evaluationInstanceType: "ml.c5.4xlarge" }, workshopWork(15));
    close(original.usd.jobs, ((47 * 3) / 60) * 0.816, "jobs on ml.c5.4xlarge");
    // An instance type the table does not know: no made-up price, and the estimate says so.
    const unknown = estimateSageMakerCost({ ...SHIPPED_FLEETS, trainingInstanceType: "ml.p5.48xlarge" }, workshopWork(1));
    assert.equal(unknown.usd.total, null);
    assert.deepEqual(unknown.unpriced, ["ml.p5.48xlarge"]);
    assert.match(formatCostEstimate(unknown).join("\n"), /no price in the table for ml\.p5\.48xlarge: look it up on the pricing page/);
  });

  it("npm start and notebook 3 print the jobs, hours, cost and a smaller run in SageMaker mode, and nothing locally", () => {
    assert.equal(cloudCostNotice(parseConfig(SHIPPED), 15), null, "local mode bills nothing");
    assert.equal(workshopLoops(parseConfig(SHIPPED)), 15);
    const config = sageMakerConfig((doc) => {
      doc.resource.private_resource.training_fleet.instance_type = "ml.c5.4xlarge";
      doc.resource.private_resource.evaluation_fleet.instance_type = "ml.c5.4xlarge";
    });
    assert.equal(workshopLoops(config), 5, "the smaller default for the cloud");
    const notice = cloudCostNotice(config, 15)!;
    assert.match(notice, /^SageMaker mode: this run of 15 loops starts billed AWS resources/);
    assert.match(notice, /47 training jobs, one after another: 16 trainings on ml\.c5\.4xlarge, 31 evaluations on ml\.c5\.4xlarge \(about 3 billed minutes each: 2\.4 instance hours, \$1\.92\)/);
    assert.match(notice, /the endpoint: 1 × ml\.t2\.medium for the whole run, twice that during each of up to 15 blue\/green updates \(11\.1 instance hours, \$0\.62\)/);
    assert.match(notice, /about 8\.6 hours from start to end; estimated cost \$2\.54/);
    assert.match(notice, /an endpoint left running bills \$1\.34 a day until cleanResource\(\) \(notebook 4\) deletes it, also after an error/);
    assert.match(notice, /prices: on-demand, us-east-1, 2025, USD per instance hour; they vary by region and over time \(https:\/\/aws\.amazon\.com\/sagemaker\/pricing\/\)/);
    assert.match(notice, /smaller: 5 loops with jobs on ml\.m5\.large: 17 jobs, about 3\.1 hours, \$0\.32 \(npm start --loops 5; TOTAL_LOOPS in notebook 3;/);
    // The shipped cloud defaults already are the smaller run: nothing smaller to offer.
    const shipped = cloudCostNotice(sageMakerConfig(), 5)!;
    assert.match(shipped, /17 training jobs/);
    assert.doesNotMatch(shipped, /smaller:/);
  });

  it("npm start with local_mode false prints the estimate of its 5 loops before anything is created", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cbkit-npm-start-"));
    try {
      const configFile = path.join(dir, "config.yaml");
      // No execution role: the run stops at the first AWS step, after the notice.
      const doc = YAML.parse(SHIPPED) as Record<string, any>;
      doc.local_mode = false;
      doc.soft_deployment = false;
      doc.sagemaker.region = "us-east-1";
      doc.data_file = path.resolve(ROOT, "..", "shared", "data", "shuttle.trn");
      fs.writeFileSync(configFile, YAML.stringify(doc));
      const r = spawnSync(process.execPath, [path.join(ROOT, "sim_app", "dist", "workshop", "main.js"), "--config", configFile], { encoding: "utf8", timeout: 60_000 });
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stdout, /^SageMaker mode: this run of 5 loops starts billed AWS resources/);
      assert.match(r.stdout, /17 training jobs, one after another/);
      assert.ok(r.stdout.indexOf("estimated cost") < r.stdout.indexOf("Workshop: 5 loops"), "the estimate comes first");
      assert.match(r.stderr, /sagemaker\.role_arn: missing/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("the notebooks say what bills, next to each cell that starts it", () => {
  type Cell = { cell_type: string; source: string | string[] };
  const text = (c: Cell) => (Array.isArray(c.source) ? c.source.join("") : c.source);
  const notebooks = fs.readdirSync(path.join(ROOT, "notebooks")).filter((n) => n.endsWith(".ipynb")).sort();
  const cellsOf = (name: string) => (JSON.parse(fs.readFileSync(path.join(ROOT, "notebooks", name), "utf8")) as { cells: Cell[] }).cells;
  /** Calls that start a SageMaker job or endpoint. */
  const BILLABLE = /\b(initializeFirstModel|trainNextModel|evaluateModel|deployModel|startExperiment|runLoop)\(/;

  it("every code cell that starts a job or an endpoint follows a markdown cell with a SageMaker-mode note", () => {
    const missing: string[] = [];
    let found = 0;
    for (const name of notebooks) {
      const cells = cellsOf(name);
      cells.forEach((cell, i) => {
        if (cell.cell_type !== "code" || !BILLABLE.test(text(cell))) return;
        found++;
        const note = cells.slice(0, i).reverse().find((c) => c.cell_type === "markdown");
        if (!note || !/\*SageMaker mode:\*/.test(text(note))) missing.push(`${name} cell ${i}`);
      });
    }
    assert.ok(found >= 9, `billable cells found: ${found}`);
    assert.deepEqual(missing, [], `no SageMaker-mode note before: ${missing.join(", ")}`);
  });

  it("notebook 3 runs 5 loops in SageMaker mode and prints their cost first; notebook 4 warns of the endpoints left billing", () => {
    const nb3 = cellsOf("3_end_to_end_loop.ipynb").map(text).join("\n");
    assert.match(nb3, /const TOTAL_LOOPS = workshopLoops\(config\);/);
    assert.ok(nb3.indexOf("showCloudCost(config, TOTAL_LOOPS)") < nb3.indexOf("startExperiment(manager"), "the estimate before the first billable cell");
    assert.match(text(cellsOf("4_clean_up.ipynb")[0]), /up to three endpoints\s+that bill every hour, also when a notebook stopped with an error/);
  });
});
