/**
 * Join benchmark: 1,000,000 decisions (the endpoint's decision-log shape, 10 files) and 1,000,000
 * rewards (2 % duplicated, 2 % missing, some unmatched) are generated first, then joined and split
 * by the local platform (the shared SQL on DuckDB, memory limit 512 MB, spilling to disk). Prints the
 * median join time of `--runs` (default 3) and the peak resident memory.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { splitValueOf } from "@cbkit/common/data";
import { createLocalPlatform } from "@cbkit/common/local";
import { BenchResults } from "./lib/results";

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const N = arg("n", 1_000_000);
const RUNS = arg("runs", 3);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function writeLines(file: string, count: number, line: (i: number) => string): Promise<void> {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const fd = fs.openSync(file, "w");
  let buf: string[] = [];
  for (let i = 0; i < count; i++) {
    buf.push(line(i));
    if (buf.length === 20000) {
      fs.writeSync(fd, buf.join("\n") + "\n");
      buf = [];
    }
  }
  if (buf.length) fs.writeSync(fd, buf.join("\n") + "\n");
  fs.closeSync(fd);
}

async function main() {
  const ws = fs.mkdtempSync(path.join(os.tmpdir(), "cbkit-bench-join-"));
  const platform = createLocalPlatform({ workspace: ws });
  try {
    const exp = "bench-join";
    const t0 = performance.now();
    const files = 10;
    const per = Math.ceil(N / files);
    const start = 1_700_000_000;
    for (let f = 0; f < files; f++) {
      const file = platform.objects.pathOf(platform.objects.uriOf(`${exp}/inference_data/2023/11/14/${String(f).padStart(2, "0")}/decisions-${f}.jsonl`));
      await writeLines(file, Math.min(per, N - f * per), (k) => {
        const i = f * per + k;
        const id = `ev-${i}`;
        const obs = [((i % 97) - 48) / 48, ((i % 13) - 6) / 6, 0.25, -0.5, (i % 7) / 7, 0.1, -0.2, 0.3, (i % 5) / 5];
        const a = (i % 7) + 1;
        return `{"event_id":"${id}","action":${a},"action_prob":0.9991,"action_probs":[0.0001,0.0001,0.9991,0.0001,0.0001,0.0001,0.0004],"model_id":"bench-join-model-a","observation":[${obs.join(",")}],"sample_prob":${splitValueOf(id)},"timestamp":${start + i * 0.001},"type":"actions"}`;
      });
    }
    // Rewards: every decision except each 50th; each 50th+1 twice; 1 % for unknown events.
    const rewardsFile = platform.objects.pathOf(platform.objects.uriOf(`${exp}/rewards_data/b1/rewards.jsonl`));
    await writeLines(rewardsFile, N, (i) => {
      if (i % 100 === 7) return `{"event_id":"ghost-${i}","reward":1,"timestamp":${start + 5000 + i * 0.001}}`;
      const target = i % 50 === 0 ? i + 1 : i; // each 50th decision gets no reward, the next one two
      return `{"event_id":"ev-${target}","reward":${target % 3 === 0 ? 1 : 0},"timestamp":${start + 4000 + i * 0.001}}`;
    });
    const genSeconds = (performance.now() - t0) / 1000;
    const bytes = (await platform.objects.list(platform.objects.uriOf(exp))).reduce((s, o) => s + o.size, 0);

    const times: number[] = [];
    let counts = null;
    for (let r = 0; r < RUNS; r++) {
      const t = performance.now();
      const res = await platform.join({
        experimentId: exp,
        joinJobId: `${exp}-join-${r}`,
        decisionsUri: platform.objects.uriOf(`${exp}/inference_data`),
        rewardsUri: platform.objects.uriOf(`${exp}/rewards_data/b1`),
        ratio: 0.8,
        missingReward: "drop",
        outputTrainUri: platform.objects.uriOf(`${exp}/joined_data/${exp}-join-${r}/train`),
        outputEvalUri: platform.objects.uriOf(`${exp}/joined_data/${exp}-join-${r}/eval`),
      });
      times.push((performance.now() - t) / 1000);
      counts = res.counts;
    }
    const rssMb = process.resourceUsage().maxRSS / 1024;
    const t = median(times);
    console.log(`join benchmark: ${N.toLocaleString()} decisions + ${N.toLocaleString()} rewards (${(bytes / 1e6).toFixed(0)} MB of JSON lines, generated in ${genSeconds.toFixed(1)} s); load avg ${os.loadavg()[0].toFixed(1)}`);
    // No earlier-commit or external baseline runs here: absolute targets.
    const results = new BenchResults("join");
    results.add({ name: `join + split + CSVs of ${N.toLocaleString("en-US")} decisions, median of ${RUNS}`, value: t, unit: "s", runs: times, target: { op: "<", value: 10, on: "value" } });
    results.add({ name: "peak resident memory of the process", value: rssMb, unit: "MB", note: "DuckDB memory_limit 512 MB, spills to disk" });
    results.save();
    console.log(`runs: ${times.map((x) => x.toFixed(2)).join(", ")} s; counts ${JSON.stringify(counts)}`);
  } finally {
    await platform.close();
    fs.rmSync(ws, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
