/**
 * The endpoint (common/src/container/serve.ts) in `--workers N` node:cluster workers sharing one
 * port, to show how it scales with a second process on a 2-core machine. Each worker is a whole
 * endpoint with its own decision log file in the same folder (the log names its file by pid):
 *   node build/bench/lib/cluster-serve.js --workers 2 --model-dir DIR [--decision-log-dir DIR]
 * prints `listening on http://127.0.0.1:PORT` once every worker listens. (One worker: the
 * endpoint in this process, as the local hosting runs it.)
 */
import cluster from "node:cluster";
import { serveOptionsFromArgs, startServer } from "@cbkit/common/container";
import { listenInWorkers } from "./workers";

async function serve(): Promise<void> {
  const running = await startServer({ ...serveOptionsFromArgs(), port: 0, host: "127.0.0.1" });
  if (cluster.isPrimary) process.stdout.write(`listening on ${running.state().url}\n`);
  process.on("SIGTERM", () => void running.close().finally(() => process.exit(0)));
}

if (require.main === module) listenInWorkers(serve);
