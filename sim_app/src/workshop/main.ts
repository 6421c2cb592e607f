/**
 * `npm start`: the whole workshop headless (see run.ts; local mode unless the config says
 * otherwise), with a progress bar per loop (one plain line per loop when stdout is not a terminal),
 * a summary table and a self-contained HTML report.
 * In SageMaker mode it first prints what the run will bill (cloud-cost.ts).
 *
 *   node sim_app/dist/workshop/main.js [--config config.yaml] [--loops 15] [--batch-size 500]
 *     [--warm-start 500] [--seed 1] [--gate ci|point|always] [--concurrency 4] [--request-batch 50]
 *     [--experiment-id ID] [--keep-endpoint] [--report <file.html>] [--verbose]
 */
import { parseArgs } from "node:util";
import { compareCosts, ConfigError, distinctDecimals, formatScore, loadConfig, type LoopRow } from "@cbkit/common";
import { resolveWorkspaceDir } from "@cbkit/common/config";
import { createLocalPlatform } from "@cbkit/common/local";
import { checkGateData, checkGateRule, sortableSuffix } from "@cbkit/common/experiment";
import { cloudCostNotice, workshopLoops } from "./cloud-cost";
import { writeWorkshopReport } from "./report";
import { runWorkshop } from "./run";

// The AWS SDK warns on Node 20 about a future version requirement; irrelevant to a local run.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

const HELP = `Runs the contextual-bandit workshop headless (local mode; SageMaker with local_mode: false).
Options:
  --config <file>        config file (default: the project's config.yaml)
  --loops <n>            number of loops (default 15; 5 with local_mode: false, where each
                         loop runs three billed SageMaker jobs)
  --batch-size <n>       interactions per loop (default 500)
  --warm-start <n>       warm-start records (default 500)
  --seed <n>             seed (default: the config's)
  --gate <rule>          (default: config workflow.deploy_gate, ci) ci: deploy when the
                         challenger's upper CI bound < the champion's cost;
                         point: challenger cost <= champion cost (the original); always
  --gate-on <data>       holdout (default): compare on every eval split so far; latest: on the
                         newest join's eval split (the original)
  --concurrency <n>      requests in flight (default 4; the join sorts by event id, so the
                         same seed gives the same run at any concurrency)
  --request-batch <n>    decisions per endpoint call (default 50, JSON lines; 1 = one request
                         per user, as the original client)
  --experiment-id <id>   experiment id (default workshop-<unique>)
  --keep-endpoint        leave the endpoint running at the end
  --report <file>        HTML report path (default <workspace>/reports/<experiment>.html)
  --verbose              print the manager's messages
`;

function intOption(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n)) throw new Error(`--${name} must be an integer, got '${v}'`);
  return n;
}

function bar(done: number, total: number, width = 30): string {
  const k = Math.round((done / total) * width);
  return `[${"#".repeat(k)}${".".repeat(width - k)}] ${String(done).padStart(String(total).length)}/${total}`;
}

function table(rows: LoopRow[]): string {
  const head = ["loop", "reward", "train/eval", "champion cost [CI]", "challenger cost [CI]", "deployed", "s"];
  // Intervals clipped to the possible costs; more digits when the two costs would print equal.
  const body = rows.map((r) => [
    String(r.loop),
    r.meanReward.toFixed(3),
    `${r.joined.train}/${r.joined.eval}`,
    formatScore(r.champion, distinctDecimals([r.champion.value, r.challenger.value])),
    formatScore(r.challenger, distinctDecimals([r.champion.value, r.challenger.value])),
    r.deployed ? "yes" : "no",
    r.seconds.toFixed(2),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i])).join("  ");
  return [line(head), widths.map((w) => "-".repeat(w)).join("  "), ...body.map(line)].join("\n");
}

/**
 * Where the time went: the start, each step's total across the loops, and the rest of the process
 * (loading modules, clean-up, the report), so a regression shows which step it is in.
 */
export function breakdown(startSeconds: number, rows: LoopRow[], processSeconds: number): string {
  const steps: [string, number][] = [["warm start (first model, score, deploy)", startSeconds]];
  const names: [keyof NonNullable<LoopRow["steps"]>, string][] = [
    ["requests", "inference requests"], ["reward", "reward"], ["join", "join"],
    ["train", "train"], ["evaluate", "evaluate (challenger + champion)"], ["deploy", "deploy"],
  ];
  for (const [key, label] of names) steps.push([`${label}, ${rows.length} loops`, rows.reduce((s, r) => s + (r.steps?.[key] ?? 0), 0)]);
  const counted = steps.reduce((s, [, v]) => s + v, 0);
  steps.push(["other (module load, clean-up, report)", Math.max(0, processSeconds - counted)]);
  const width = Math.max(...steps.map(([l]) => l.length));
  const lines = steps.map(([label, v]) => `  ${label.padEnd(width)}  ${v.toFixed(2).padStart(6)} s  ${((100 * v) / processSeconds).toFixed(0).padStart(3)} %`);
  return [`breakdown (process ${processSeconds.toFixed(1)} s):`, ...lines].join("\n");
}

export async function main(argv: string[] = process.argv.slice(2)): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: "string" },
      loops: { type: "string" },
      "batch-size": { type: "string" },
      "warm-start": { type: "string" },
      seed: { type: "string" },
      gate: { type: "string" },
      concurrency: { type: "string" },
      "request-batch": { type: "string" },
      "gate-on": { type: "string" },
      "experiment-id": { type: "string" },
      "keep-endpoint": { type: "boolean" },
      report: { type: "string" },
      verbose: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const config = loadConfig(values.config);
  const gate = checkGateRule(values.gate ?? config.workflow.deploy_gate, "--gate");
  const gateOn = checkGateData(values["gate-on"] ?? "holdout", "--gate-on");
  const loops = intOption(values.loops, "loops") ?? workshopLoops(config);
  // SageMaker mode: the jobs, hours and cost of this run, before anything is billed.
  const notice = cloudCostNotice(config, loops);
  if (notice) process.stdout.write(`${notice}\n`);
  const tty = process.stdout.isTTY === true;
  const experimentId = values["experiment-id"] ?? `workshop-${sortableSuffix()}`;
  if (config.local_mode && values["keep-endpoint"] !== true) {
    // Ctrl-C must not leave the detached endpoint process behind.
    const stop = (signal: NodeJS.Signals) => {
      process.stdout.write(`\n${signal}: stopping the endpoint of ${experimentId}\n`);
      const platform = createLocalPlatform({ workspace: resolveWorkspaceDir(config) });
      platform.hosting.delete(experimentId).finally(() => process.exit(130));
    };
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  }
  process.stdout.write(`Workshop: ${loops} loops × ${intOption(values["batch-size"], "batch-size") ?? 500} interactions, gate ${gate}\n`);
  const result = await runWorkshop({
    config,
    loops,
    batchSize: intOption(values["batch-size"], "batch-size"),
    warmStart: intOption(values["warm-start"], "warm-start"),
    seed: intOption(values.seed, "seed"),
    gate,
    concurrency: intOption(values.concurrency, "concurrency"),
    requestBatch: intOption(values["request-batch"], "request-batch"),
    gateOn,
    experimentId,
    keepEndpoint: values["keep-endpoint"] === true,
    log: values.verbose ? (m) => process.stdout.write(`  ${m}\n`) : undefined,
    onProgress: (loop, done, total) => {
      if (tty) process.stdout.write(`\rloop ${String(loop).padStart(2)}/${loops} ${bar(done, total)}`);
    },
    onLoop: (r) => {
      // A terminal sees the loop's bar completed in place; a pipe or log file gets one plain line.
      const outcome = `reward ${r.meanReward.toFixed(3)}  challenger vs champion ${compareCosts(r.challenger.value, r.champion.value)} -> ${r.deployed ? "deployed" : "kept champion"}`;
      const loopNo = `loop ${String(r.loop).padStart(2)}/${loops}`;
      process.stdout.write(tty ? `\r${loopNo} ${bar(1, 1)} ${outcome}\n` : `${loopNo}: ${outcome}\n`);
    },
  });
  process.stdout.write(`\n${table(result.loops)}\n\n`);
  const mean = result.rewards.reduce((s, v) => s + v, 0) / Math.max(1, result.rewards.length);
  process.stdout.write(
    `mean reward ${mean.toFixed(4)} (oracle ${result.oracleReward.toFixed(4)}, majority class ${result.majorityReward.toFixed(4)}, ` +
      `random ${result.randomReward.toFixed(4)}); ${result.loops.filter((r) => r.deployed).length} of ${result.loops.length} challengers deployed\n`,
  );
  process.stdout.write(`report: ${writeWorkshopReport(result, config, values.report)}\n`);
  if (result.endpointKept) process.stdout.write(`endpoint left running at ${result.endpointUrl} (experiment ${result.experimentId})\n`);
  process.stdout.write(`total time ${result.seconds.toFixed(1)} s\n${breakdown(result.startSeconds, result.loops, process.uptime())}\n`);
  return 0;
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      // A config problem is the user's to fix: its message says what and where, a stack trace would only bury it.
      const text = err instanceof ConfigError ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err);
      process.stderr.write(`workshop failed: ${text}\n`);
      process.exit(1);
    },
  );
}
