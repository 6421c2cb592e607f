/**
 * The limit an endpoint is compared with: a bare Node.js HTTP server that reads the request body
 * and answers a fixed JSON body (the size and shape of one endpoint decision), nothing else: no
 * parsing, no model, no decision log. Run as its own process, like the endpoint:
 *   node build/bench/lib/bare-server.js [--workers N]
 * prints `listening on http://127.0.0.1:PORT` once every worker listens (N > 1: node:cluster
 * workers sharing the port, as bench/lib/cluster-serve.ts does for the endpoint).
 */
import cluster from "node:cluster";
import * as http from "node:http";
import { listenInWorkers } from "./workers";

const ANSWER = JSON.stringify({
  action: 3,
  action_prob: 0.8571428571428572,
  action_probs: [0.023809523809523808, 0.023809523809523808, 0.8571428571428572, 0.023809523809523808, 0.023809523809523808, 0.023809523809523808, 0.023809523809523808],
  event_id: "0b6f9e9c-2d55-4a1e-9a53-0c3f1f5a9d2e",
  model_id: "bench-endpoint-model-0mx6r1f0us3o",
  sample_prob: 0.4518,
  timestamp: 1764717600.123,
});

function serve(): void {
  const server = http.createServer((req, res) => {
    req.on("data", () => undefined);
    req.on("end", () => {
      res.writeHead(200, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(ANSWER) });
      res.end(ANSWER);
    });
  });
  server.keepAliveTimeout = 65000;
  process.on("SIGTERM", () => process.exit(0));
  server.listen(0, "127.0.0.1", () => {
    const addr = server.address();
    if (cluster.isPrimary && addr && typeof addr === "object") process.stdout.write(`listening on http://127.0.0.1:${addr.port}\n`);
  });
}

if (require.main === module) listenInWorkers(serve);
