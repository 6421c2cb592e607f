/**
 * Vowpal Wabbit side by side with the kit: one owner for running VW (the `vowpalwabbit` Python
 * package, 9.11 line, driven by bench/vw_driver.py) from the benches and the parity tests.
 *
 *  - `VwSession`: a VW workspace in a child process, driven example by example (learn, predict).
 *  - `runVwJob`: a whole VW job over a data file (VW's own parser loop, like the `vw` binary),
 *    measured as a whole process (wall time, peak RSS).
 *  - `vwArgumentsFor`: the VW command line for the kit's learner options, in VW 9's default
 *    (ADF translation) or legacy (`--cb_force_legacy`) form.
 *  - `adfExample`: one context as the explicit ADF example that VW 9's `--cb_explore K`
 *    translation builds internally (one example per action, every feature and the constant
 *    owned by its action), so `--cb_adf` returns VW's per-action costs.
 */
import { spawn, ChildProcessWithoutNullStreams } from "node:child_process";
import * as path from "node:path";
import * as readline from "node:readline";
import { findProjectRoot } from "@cbkit/common/config";
import { formatVwExample } from "@cbkit/common/data";
import { LearnerOptions } from "@cbkit/common";
import { resolveLearnerOptions } from "@cbkit/common/learner";
import { findPythonTool } from "./python";
import { measureProcess, ProcessRun } from "./measure";

/** bench/vw_driver.py (the source file: the build does not copy it). */
export function vwDriverPath(root: string = findProjectRoot()): string {
  return path.join(root, "bench", "vw_driver.py");
}

/** The project's Python with vowpalwabbit, or the reason it is missing (naming `who`). */
export function findVw(who: string): ReturnType<typeof findPythonTool> {
  return findPythonTool(who, "vowpalwabbit", "vowpalwabbit (9.11)");
}

export type VwExampleText = string | string[];

/** A VW workspace in a child process (vw_driver.py serve); requests run one at a time. */
export class VwSession {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly replies: ((line: string) => void)[] = [];
  private stderr = "";
  private closed = false;
  version = "";

  constructor(python: string) {
    this.child = spawn(python, [vwDriverPath(), "serve"], { stdio: ["pipe", "pipe", "pipe"] });
    this.child.stderr.on("data", (d: Buffer) => (this.stderr += d.toString()));
    readline.createInterface({ input: this.child.stdout }).on("line", (line) => this.replies.shift()?.(line));
    this.child.on("exit", () => {
      this.closed = true;
      for (const r of this.replies.splice(0)) r(JSON.stringify({ error: `the VW driver exited: ${this.stderr.trim().slice(-1000)}` }));
    });
  }

  private request<T>(req: Record<string, unknown>): Promise<T> {
    if (this.closed) return Promise.reject(new Error(`the VW driver has exited: ${this.stderr.trim().slice(-1000)}`));
    return new Promise((resolve, reject) => {
      this.replies.push((line) => {
        const reply = JSON.parse(line) as T & { error?: string };
        if (reply.error) reject(new Error(`VW (${String(req.op)}${req.args ? ` ${String(req.args)}` : ""}): ${reply.error}`));
        else resolve(reply);
      });
      this.child.stdin.write(JSON.stringify(req) + "\n");
    });
  }

  /** Starts a fresh workspace with these VW arguments (the previous one is finished). */
  async open(args: string): Promise<void> {
    const r = await this.request<{ version: string }>({ op: "open", args });
    this.version = r.version;
  }

  async learn(examples: VwExampleText[]): Promise<void> {
    await this.request({ op: "learn", examples });
  }

  /** VW's predictions: a pmf per example for --cb_explore, per-action scores for --cb_adf. */
  async predict(examples: VwExampleText[]): Promise<number[][]> {
    return (await this.request<{ predictions: number[][] }>({ op: "predict", examples })).predictions;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.request({ op: "close" }).catch(() => undefined);
    this.child.stdin.end();
    await new Promise<void>((resolve) => (this.closed ? resolve() : this.child.once("exit", () => resolve())));
  }
}

/** A process that only starts VW (imports the package): VW's start-up RSS, the baseline of its peak RSS. */
export function runVwStartup(python: string): Promise<ProcessRun> {
  return measureProcess(python, ["-c", "import vowpalwabbit"]);
}

/** One whole VW job (`vw_driver.py run ARGS`), e.g. `-d file.vw -f model --cb_explore 7`. */
export async function runVwJob(python: string, args: string[]): Promise<ProcessRun & { vwSeconds: number }> {
  const run = await measureProcess(python, [vwDriverPath(), "run", ...args]);
  const last = run.stdout.trim().split("\n").pop() ?? "{}";
  return { ...run, vwSeconds: (JSON.parse(last) as { seconds: number }).seconds };
}

export type VwTranslation = "adf" | "legacy";

/**
 * VW's command line for the kit's options (linear features; VW has no bins map), in VW 9's default
 * form (`--cb_explore K` translated to ADF) or the legacy one (`--cb_force_legacy`). The kit's
 * probability floor has no VW flag; for egreedy it is the same pmf as VW's epsilon
 * max(ε, floor·K) (every other action at exactly the floor), which is what this returns.
 */
export function vwArgumentsFor(options: LearnerOptions, translation: VwTranslation): string {
  const o = resolveLearnerOptions(options);
  const parts = [`--cb_explore ${o.numArms}`];
  switch (o.explorationPolicy) {
    case "egreedy": parts.push(`--epsilon ${Math.max(o.epsilon, o.minProbability * o.numArms)}`); break;
    case "bag": parts.push(`--bag ${o.numPolicies}`); break;
    case "cover": parts.push(`--cover ${o.numPolicies} --psi ${o.psi}`); break;
    case "first": parts.push(`--first ${o.tau}`); break;
    default: throw new Error(`vwArgumentsFor: ${o.explorationPolicy} has no --cb_explore counterpart`);
  }
  if (o.explorationPolicy !== "egreedy" && o.minProbability > 0) throw new Error("vwArgumentsFor: VW has no probability floor for bag, cover or first");
  if (o.featureMap === "quadratic") parts.push("-q ::");
  parts.push(`--cb_type ${o.cbType}`, `-b ${o.bits}`, `-l ${o.learningRate}`, `--power_t ${o.powerT}`);
  if (translation === "legacy") parts.push("--cb_force_legacy");
  return parts.join(" ");
}

/** A context (and maybe a label) as a VW text line: `action:cost:probability | 1:v1 2:v2 ...`. */
export function vwLine(context: ArrayLike<number> | Record<string, number>, label?: { action: number; cost: number; probability: number }): string {
  return formatVwExample(Array.isArray(context) || ArrayBuffer.isView(context) ? Array.from(context as ArrayLike<number>) : context, label ?? null);
}

/**
 * A context as the ADF example that `--cb_explore K` becomes inside VW 9: K action lines, each
 * holding every feature and a constant under names owned by that action (run with `--cb_adf
 * --noconstant`), the label on the taken action's line.
 */
export function adfExample(context: ArrayLike<number>, numArms: number, label?: { action: number; cost: number; probability: number }): string[] {
  const lines: string[] = [];
  for (let a = 1; a <= numArms; a++) {
    const feats: string[] = [];
    for (let i = 0; i < context.length; i++) if (context[i] !== 0) feats.push(`a${a}_${i + 1}:${context[i]}`);
    feats.push(`a${a}_const:1`);
    const head = label && label.action === a ? `0:${label.cost}:${label.probability} ` : "";
    lines.push(`${head}| ${feats.join(" ")}`);
  }
  return lines;
}
