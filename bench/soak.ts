/**
 * Soak: the bandit loop runs for `--minutes` (default 1; issue 16 asks for 10) while the endpoint
 * and the manager's process are killed at seeded random times and the workspace's disk fills and
 * frees. At the end it prints decisions answered, logged and joined, and the checks that must be 0:
 *
 *   answered − logged                 answered decisions missing from the decision log (data loss)
 *   joined twice                      event ids in more than one successful join
 *   holdout duplicates                event ids in the holdout more than once
 *   manager crashes                   manager processes that died without being killed (an abort)
 *   orphan processes                  endpoint processes of the experiment running besides the
 *                                     recorded one, and any left after cleanResource()
 *   record/endpoint mismatches        checks (after every finished loop, and at the end) where the
 *                                     records' hosted model or state disagree with what serves
 *
 * and exits 1 when any is off. The first three and the crashes are the data-loss work of issue 16
 * items 1-4; orphans and mismatches after a kill are items 5-6 (process safety): the output marks
 * which is which.
 *
 * Usage: `npm run bench -- soak --minutes 10 [--seed 1] [--disk-mb 192] [--batch 100]`. The disk is
 * a tmpfs mounted for the run (needs root, as in CI); without root the disk events are skipped and
 * the output says so. Everything runs in a temp folder that is removed at the end; every process
 * the soak started is stopped before it exits.
 *
 * The manager side is this same file run with `--child` (a separate process, so it can be killed).
 */
import { fork, type ChildProcess } from "node:child_process";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ExperimentManager, loadConfig, type Config } from "@cbkit/common";
import { Rng } from "@cbkit/common/util";
import { createLocalPlatform } from "@cbkit/common/local";
import { filesUnder } from "@cbkit/common/container";
import { StatlogSimApp, prepareStatlogWarmStartData, resolveShuttleDataFile } from "@cbkit/sim_app";

const EXPERIMENT = "soak";

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ------------------------------------------------------------------------------------ the manager

/** Messages from the manager process to the orchestrator. */
type ChildMessage =
  | { type: "ready"; restart: number }
  | { type: "settled"; loop: number; deployed: string | null; deployStartedAt: number }
  | { type: "error"; step: string; name: string; message: string };

function childConfig(workspace: string, soft: boolean): Config {
  const config = loadConfig();
  config.workspace = workspace;
  config.soft_deployment = soft;
  return config;
}

/**
 * One manager process: resumes the experiment (a killed predecessor's steps are taken over), then
 * runs loops — serve a batch through the endpoint, ingest the rewards, join, train, evaluate on the
 * holdout, deploy — until it is killed. A step that fails (a full disk, a killed endpoint) is
 * reported and the loop starts over, as a workshop user would re-run the cell.
 */
async function runChild(): Promise<void> {
  const workspace = arg("workspace", "");
  const restart = Number(arg("restart", "0"));
  const answeredFile = arg("answered", "");
  const batch = Number(arg("batch", "100"));
  const config = childConfig(workspace, arg("soft", "true") === "true");
  const send = (m: ChildMessage) => process.send?.(m);
  const awaitGo = () => new Promise<void>((resolve) => process.once("message", () => resolve()));
  const report = (step: string, err: unknown) => {
    const e = err as Error;
    send({ type: "error", step, name: e?.name ?? "Error", message: String(e?.message ?? err).slice(0, 400) });
  };
  const sim = new StatlogSimApp({ dataFile: resolveShuttleDataFile(config), seed: `${arg("seed", "1")}/${restart}` });
  let m: ExperimentManager | null = null;
  // Like the app's rewards buffer: rewards of answered decisions wait here until they are
  // ingested, and ingested batches until a join took them (lost only when this process is killed).
  let unreported: { event_id: string; reward: number }[] = [];
  const unjoined: string[] = [];
  for (let loop = 0; ; loop++) {
    let step = "resume";
    try {
      if (!m) {
        m = await ExperimentManager.create(config, EXPERIMENT, { log: () => undefined });
        // The first call after a kill: the orchestrator compares records and endpoint now.
        send({ type: "ready", restart });
        await awaitGo();
      }
      if (!m.lastTrainedModelId) {
        step = "warm start";
        if (!m.lastJoinedJobId) {
          await m.ingestJoinedData(prepareStatlogWarmStartData({ dataFile: resolveShuttleDataFile(config), batchSize: 300, seed: config.seed }), config.workflow.join_ratio);
        }
        await m.initializeFirstModel({ inputDataUri: m.lastJoinedJobTrainData });
      }
      step = "deploy (nothing serves)";
      if (!(await m.describeEndpoint())) await m.deployModel({ modelId: m.lastHostedModelId ?? (m.lastTrainedModelId as string) });
      step = "serve";
      for (let start = 0; start < batch; start += 20) {
        const users = Array.from({ length: Math.min(20, batch - start) }, () => sim.chooseRandomUser());
        const ids = users.map((_, i) => `r${restart}-l${loop}-${start + i}`);
        const actions = await m.predictor.getActions(users.map((u) => u.context), { eventIds: ids });
        // Answered: the endpoint sent these decisions back. Recorded outside the small disk.
        fs.appendFileSync(answeredFile, actions.map((a) => a.eventId).join("\n") + "\n");
        actions.forEach((a, i) => unreported.push({ event_id: a.eventId, reward: sim.rewardOf(users[i].userId, a.action) }));
      }
      step = "join";
      if (unreported.length) {
        unjoined.push(await m.ingestRewards(unreported));
        unreported = [];
      }
      while (unjoined.length) {
        await m.join(unjoined[0]).catch((err: Error) => {
          if (!/was joined before/.test(err.message)) throw err; // joined by an attempt that failed later
        });
        unjoined.shift();
      }
      step = "train";
      const challenger = await m.trainNextModel();
      step = "evaluate";
      await m.evaluateModel({ modelId: challenger.model_id, inputDataUri: m.holdoutDataUri });
      step = "deploy";
      const deployStartedAt = Date.now();
      await m.deployModel({ modelId: challenger.model_id });
      send({ type: "settled", loop, deployed: challenger.model_id, deployStartedAt });
      await awaitGo();
    } catch (err) {
      report(step, err);
      await sleep(300);
    }
  }
}

// ------------------------------------------------------------------------------- the orchestrator

interface Disk {
  dir: string;
  fill(leave: number): void;
  free(): void;
  unmount(): void;
}

/** A tmpfs for the workspace, or null (with the reason printed) when it can not be mounted here. */
function mountDisk(base: string, megabytes: number): Disk | null {
  const dir = path.join(base, "disk");
  fs.mkdirSync(dir);
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${megabytes}m`, "tmpfs", dir], { stdio: "pipe" });
  } catch (err) {
    console.log(`disk events skipped: mounting a ${megabytes} MB tmpfs needs root (${(err as Error).message.split("\n")[0]})`);
    return null;
  }
  const filler = path.join(dir, "filler.bin");
  return {
    dir,
    fill(leave) {
      const st = fs.statfsSync(dir);
      let left = Math.max(0, Number(st.bavail) * Number(st.bsize) - leave);
      const fd = fs.openSync(filler, "a");
      const chunk = Buffer.alloc(1024 * 1024);
      try {
        while (left > 0) left -= fs.writeSync(fd, chunk, 0, Math.min(left, chunk.length));
      } catch {
        /* full */
      } finally {
        fs.closeSync(fd);
      }
    },
    free: () => fs.rmSync(filler, { force: true }),
    unmount() {
      try {
        execFileSync("umount", ["-l", dir], { stdio: "pipe" });
      } catch {
        /* gone */
      }
    },
  };
}

/** Live processes whose command line mentions `needle` (the workspace), with their pid and command. */
function processesMentioning(needle: string): { pid: number; cmd: string }[] {
  const out: { pid: number; cmd: string }[] = [];
  for (const name of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      const cmd = fs.readFileSync(`/proc/${name}/cmdline`, "utf8").split("\0").join(" ");
      const state = fs.readFileSync(`/proc/${name}/stat`, "utf8").split(") ")[1]?.[0];
      if (cmd.includes(needle) && state !== "Z") out.push({ pid: Number(name), cmd });
    } catch {
      /* gone meanwhile */
    }
  }
  return out;
}

/** The endpoint's state file (pid, url), or null. */
function endpointState(workspace: string): { pid: number; url: string } | null {
  try {
    return JSON.parse(fs.readFileSync(path.join(workspace, "endpoints", `${EXPERIMENT}.json`), "utf8")) as { pid: number; url: string };
  } catch {
    return null;
  }
}

/** The model the endpoint serves, or why none answers. */
async function servedModel(url: string): Promise<{ model: string | null; why: string }> {
  try {
    const r = await fetch(`${url}/ping`, { signal: AbortSignal.timeout(5000) });
    const model = ((await r.json()) as { model_id?: string }).model_id ?? null;
    return { model, why: model ? "" : `ping answered ${r.status} without a model` };
  } catch (err) {
    return { model: null, why: `ping failed: ${(err as Error).message}` };
  }
}

/** The files under `dir`, at any depth, whose names end with `suffix` (none when `dir` is missing). */
function filesEndingIn(dir: string, suffix: string): string[] {
  return fs.existsSync(dir) ? filesUnder(dir).filter((f) => f.endsWith(suffix)).map((f) => path.join(dir, f)) : [];
}

/** Every event id in the decision log (whole lines), and the lines that are not whole JSON. */
function decisionLog(workspace: string): { ids: Set<string>; torn: number } {
  const ids = new Set<string>();
  let torn = 0;
  for (const file of filesEndingIn(path.join(workspace, "bucket", EXPERIMENT, "inference_data"), ".jsonl")) {
    for (const line of fs.readFileSync(file, "utf8").split("\n")) {
      if (!line) continue;
      try {
        ids.add((JSON.parse(line) as { event_id: string }).event_id);
      } catch {
        torn++;
      }
    }
  }
  return { ids, torn };
}

/** Event ids of every rewards file the manager ingested. */
function rewardedIds(workspace: string): Set<string> {
  const ids = new Set<string>();
  for (const file of filesEndingIn(path.join(workspace, "bucket", EXPERIMENT, "rewards_data"), ".jsonl"))
    for (const line of fs.readFileSync(file, "utf8").split("\n")) if (line) ids.add((JSON.parse(line) as { event_id: string }).event_id);
  return ids;
}

/** Event ids of a folder of joined CSVs (second column), counting each occurrence. */
function csvIds(dir: string): string[] {
  const ids: string[] = [];
  for (const file of filesEndingIn(dir, ".csv"))
    for (const line of fs.readFileSync(file, "utf8").split("\n").slice(1)) {
      const m = /^"[^"]*","((?:[^"]|"")*)"/.exec(line);
      if (m) ids.push(m[1].replace(/""/g, '"'));
    }
  return ids;
}

const duplicatesOf = (ids: string[]) => ids.length - new Set(ids).size;

async function orchestrate(): Promise<number> {
  const minutes = Number(arg("minutes", "1"));
  const seed = Number(arg("seed", "1"));
  const diskMb = Number(arg("disk-mb", "192"));
  const batch = Number(arg("batch", "100"));
  if (!(minutes > 0) || !Number.isFinite(seed) || !(diskMb >= 64) || !(batch >= 20)) {
    console.error("usage: soak [--minutes M > 0] [--seed S] [--disk-mb N >= 64] [--batch B >= 20]");
    return 2;
  }
  const rng = new Rng(`soak/${seed}`);
  const base = fs.mkdtempSync(path.join(os.tmpdir(), "cbkit-soak-"));
  const disk = mountDisk(base, diskMb);
  const workspace = path.join(disk ? disk.dir : base, "ws");
  const answeredFile = path.join(base, "answered.txt");
  fs.writeFileSync(answeredFile, "");
  console.log(`soak: ${minutes} min, seed ${seed}, workspace ${workspace}${disk ? ` on a ${diskMb} MB tmpfs` : ""}, load avg ${os.loadavg()[0].toFixed(1)}`);

  const tally = { loops: 0, restarts: 0, managerKills: 0, endpointKills: 0, fills: 0, frees: 0, crashes: 0, mismatches: 0, checks: 0, racedChecks: 0 };
  const mismatchesBy = { "after a restart": 0, "after a loop": 0, "at the end": 0 };
  let lastEndpointKillAt = 0;
  /** Checks and kills never overlap: a kill during a check would be counted as the records' fault. */
  let lock: Promise<unknown> = Promise.resolve();
  const exclusive = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = lock.then(fn, fn);
    lock = run.catch(() => undefined);
    return run;
  };
  const errors = new Map<string, { count: number; example: string }>();
  const mismatchExamples: string[] = [];
  let child: ChildProcess | null = null;
  let killedByUs = false;
  let filled = false;

  const check = async (kind: keyof typeof mismatchesBy, when: string, expected: string | null) => {
    tally.checks++;
    const platform = createLocalPlatform({ workspace });
    try {
      const rec = (await platform.records.get("experiment", EXPERIMENT, EXPERIMENT))?.value.hosting_workflow_metadata;
      const state = endpointState(workspace);
      const ping = state ? await servedModel(state.url) : { model: null, why: "no endpoint state file" };
      const served = ping.model;
      const problems: string[] = [];
      if (rec?.hosting_state === "DEPLOYING") problems.push("hosting_state is DEPLOYING with no deploy running");
      if (rec?.last_hosted_model_id && served !== rec.last_hosted_model_id) {
        const alive = state ? (() => { try { process.kill(state.pid, 0); return "alive"; } catch { return "gone"; } })() : "-";
        problems.push(`records say ${rec.last_hosted_model_id} is hosted, the endpoint serves ${served ?? `nothing (${ping.why}; pid ${state?.pid ?? "-"} ${alive})`}`);
      }
      if (expected && rec?.last_hosted_model_id !== expected) problems.push(`the manager deployed ${expected}, records say ${rec?.last_hosted_model_id}`);
      if (problems.length) {
        note(`mismatch ${when}: ${problems.join("; ")}`);
        tally.mismatches++;
        mismatchesBy[kind]++;
        if (mismatchExamples.length < 5) mismatchExamples.push(`${when}: ${problems.join("; ")}`);
      }
    } finally {
      await platform.close();
    }
  };

  const startChild = () => {
    tally.restarts++;
    killedByUs = false;
    const soft = rng.next() < 0.5;
    const c = fork(__filename, ["--child", "--workspace", workspace, "--restart", String(tally.restarts), "--answered", answeredFile, "--batch", String(batch), "--soft", String(soft), "--seed", String(seed)], {
      stdio: ["ignore", "ignore", "pipe", "ipc"],
    });
    let stderr = "";
    c.stderr?.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
    const go = () => {
      if (c.connected) c.send({ type: "go" });
    };
    c.on("message", (msg: ChildMessage) => {
      if (msg.type === "ready") {
        void exclusive(() => check("after a restart", `when manager ${msg.restart} resumed`, null)).finally(go);
      } else if (msg.type === "settled") {
        note(`manager ${c.pid}: loop ${msg.loop} deployed ${msg.deployed} (deploy began ${((msg.deployStartedAt - t0) / 1000).toFixed(1)} s)`);
        tally.loops++;
        void exclusive(async () => {
          // The soak's own endpoint kill after the deploy began is no mismatch of the records: the next call sees it.
          if (lastEndpointKillAt >= msg.deployStartedAt) tally.racedChecks++;
          else await check("after a loop", `after loop ${msg.loop} of manager ${tally.restarts}`, msg.deployed);
        }).finally(go);
      } else if (msg.type === "error") {
        note(`manager ${c.pid}: ${msg.step}: ${msg.name}: ${msg.message.slice(0, 140)}`);
        const key = `${msg.step}: ${msg.name}`;
        const e = errors.get(key) ?? { count: 0, example: msg.message };
        e.count++;
        errors.set(key, e);
      }
    });
    c.on("exit", (code, signal) => {
      if (!killedByUs && child === c) {
        tally.crashes++;
        console.log(`manager process ${c.pid} died without being killed (exit ${code}, signal ${signal}): ${stderr.slice(-800)}`);
        child = null;
      }
    });
    child = c;
  };

  const killManager = async () => {
    const c = child;
    if (!c) return;
    killedByUs = true;
    child = null;
    const exited = new Promise((r) => c.once("exit", r));
    c.kill("SIGKILL");
    await exited;
    tally.managerKills++;
  };

  const t0 = Date.now();
  const verbose = process.argv.includes("--verbose");
  const note = (what: string) => {
    if (verbose) console.log(`[${((Date.now() - t0) / 1000).toFixed(1)} s] ${what}`);
  };
  /** One seeded event: kill the manager (35 %), kill the endpoint (30 %), or fill the disk. */
  const randomEvent = async (roll: number): Promise<void> => {
    if (roll < 0.35) {
      note(`kill manager ${(child as ChildProcess | null)?.pid}`);
      await killManager();
      await sleep(300 + rng.int(1000));
      startChild();
    } else if (roll < 0.65) {
      const st = endpointState(workspace);
      if (!st) return;
      lastEndpointKillAt = Date.now();
      note(`kill endpoint ${st.pid}`);
      try {
        process.kill(st.pid, "SIGKILL");
        tally.endpointKills++;
      } catch {
        /* already gone */
      }
    } else if (disk && !filled) {
      // Full (the decision log fails), nearly full (below the record database's reserve), or a few MB left.
      const leave = [0, 64 * 1024, 2 * 1024 * 1024][rng.int(3)];
      note(`fill the disk, leaving ${leave} bytes`);
      disk.fill(leave);
      filled = true;
      freeAt = Date.now() + 3000 + rng.int(7000);
      tally.fills++;
    }
  };

  const end = Date.now() + minutes * 60_000;
  startChild();
  let freeAt = 0;
  while (Date.now() < end) {
    await sleep(2000 + rng.int(6000));
    if (!child) startChild(); // after a crash
    if (filled && Date.now() >= freeAt) {
      note("free the disk");
      disk?.free();
      filled = false;
      tally.frees++;
      continue;
    }
    const roll = rng.next();
    await exclusive(() => randomEvent(roll));
  }

  // Settle: space back, no more kills; let the manager finish one whole loop, then stop it.
  if (filled) {
    disk?.free();
    tally.frees++;
  }
  const settledBefore = tally.loops;
  const settleEnd = Date.now() + 120_000;
  if (!child) startChild();
  while (tally.loops === settledBefore && Date.now() < settleEnd) await sleep(200);
  const settled = tally.loops > settledBefore;
  await killManager();
  tally.managerKills--; // the final stop is not one of the random kills

  // Count.
  const answered = new Set(fs.readFileSync(answeredFile, "utf8").split("\n").filter(Boolean));
  const log = decisionLog(workspace);
  const missing = [...answered].filter((id) => !log.ids.has(id));
  const platform = createLocalPlatform({ workspace });
  const joins = (await platform.records.list("join_job", EXPERIMENT)).map((r) => r.value).filter((j) => j.current_state === "SUCCEEDED");
  const joinedIds = joins.flatMap((j) => [...csvIds(new URL(j.output_joined_train_data_s3_path).pathname), ...csvIds(new URL(j.output_joined_eval_data_s3_path).pathname)]);
  const holdout = csvIds(path.join(workspace, "bucket", EXPERIMENT, "holdout"));
  const rewarded = rewardedIds(workspace);
  const joinedSet = new Set(joinedIds);
  await check("at the end", "at the end", null);
  const state = endpointState(workspace);
  const endpoints = processesMentioning(path.join(workspace, "endpoints"));
  const orphansBefore = endpoints.filter((p) => p.pid !== state?.pid);
  const m = await ExperimentManager.create(childConfig(workspace, true), EXPERIMENT, { log: () => undefined });
  await m.cleanResource().catch((err) => console.log(`cleanResource failed: ${(err as Error).message}`));
  await m.close();
  await platform.close();
  await sleep(500);
  const orphansAfter = processesMentioning(workspace);
  for (const p of [...orphansBefore, ...orphansAfter]) {
    try {
      process.kill(p.pid, "SIGKILL"); // started by this soak: never left running
    } catch {
      /* gone */
    }
  }

  const rows: [string, string | number, string][] = [
    ["loops finished", tally.loops, ""],
    ["manager processes started / killed", `${tally.restarts} / ${tally.managerKills}`, ""],
    ["endpoint processes killed", tally.endpointKills, ""],
    ["disk filled / freed", disk ? `${tally.fills} / ${tally.frees}` : "skipped (no tmpfs)", ""],
    ["decisions answered", answered.size, ""],
    ["decisions logged", log.ids.size, log.torn ? `(${log.torn} unreadable line(s) in the log)` : ""],
    ["decisions rewarded (rewards ingested)", rewarded.size, "(a killed manager loses the rewards it had not ingested yet)"],
    [
      "decisions joined",
      [...joinedSet].filter((id) => log.ids.has(id)).length,
      `(${joins.length} successful joins, the warm start not counted; rewarded but not joined: ${[...rewarded].filter((id) => !joinedSet.has(id)).length}, their manager was killed before its join)`,
    ],
    ["answered − logged", missing.length, `must be 0${missing.length ? `: e.g. ${missing.slice(0, 3).join(", ")}` : ""} [items 1-4]`],
    ["joined twice", duplicatesOf(joinedIds), "must be 0 [items 1-4]"],
    ["holdout duplicates", duplicatesOf(holdout), "must be 0 [items 1-4]"],
    ["manager crashes (not killed by the soak)", tally.crashes, "must be 0 [items 1-4: a full disk must not abort]"],
    ["orphan processes", orphansBefore.length + orphansAfter.length, `must be 0 (${orphansBefore.length} besides the recorded endpoint, ${orphansAfter.length} after cleanResource) [items 5-6]`],
    [
      "record/endpoint mismatches",
      tally.mismatches,
      `must be 0 (of ${tally.checks} checks: ${Object.entries(mismatchesBy).map(([k, n]) => `${n} ${k}`).join(", ")}; ${tally.racedChecks} loops skipped: the soak killed the endpoint during their deploy) [items 5-6]`,
    ],
    ["settled at the end", settled ? "yes" : "no", "a whole loop ran after the last kill"],
  ];
  console.log("");
  for (const [what, value, note] of rows) console.log(`${what.padEnd(42)}${String(value).padStart(16)}   ${note}`);
  if (errors.size) {
    console.log("\nstep failures the manager reported (expected under kills and a full disk; each is a named error):");
    for (const [key, e] of [...errors].sort((a, b) => b[1].count - a[1].count)) console.log(`  ${String(e.count).padStart(5)} × ${key} — ${e.example.slice(0, 160)}`);
  }
  for (const x of mismatchExamples) console.log(`mismatch: ${x}`);
  for (const p of [...orphansBefore, ...orphansAfter].slice(0, 5)) console.log(`orphan: pid ${p.pid} ${p.cmd.slice(0, 200)}`);

  if (process.argv.includes("--keep")) {
    disk?.free();
    console.log(`kept for inspection: ${base} (unmount ${disk?.dir ?? "-"} when done)`);
  } else {
    disk?.unmount();
    fs.rmSync(base, { recursive: true, force: true });
  }
  const off =
    missing.length + duplicatesOf(joinedIds) + duplicatesOf(holdout) + tally.crashes + orphansBefore.length + orphansAfter.length + tally.mismatches + (settled ? 0 : 1);
  console.log(off === 0 ? "\nsoak: every check is 0" : "\nsoak: FAILED (see the checks above)");
  return off === 0 ? 0 : 1;
}

if (process.argv.includes("--child")) {
  runChild().catch((err) => {
    process.stderr.write(`soak manager: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exit(3);
  });
} else {
  orchestrate().then(
    (code) => process.exit(code),
    (err) => {
      console.error(err);
      process.exit(2);
    },
  );
}
