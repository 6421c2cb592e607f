/**
 * `--workers N` for the bench's server processes: N = 1 runs `serve` in this process; N > 1 forks
 * N node:cluster workers that each run it (listening on port 0 in a worker shares one port, handed
 * out by the primary) and prints `listening on URL` once all of them listen. SIGTERM stops all.
 */
import cluster from "node:cluster";

export function workersArg(argv: string[] = process.argv): number {
  const i = argv.indexOf("--workers");
  const n = i >= 0 ? Number(argv[i + 1]) : 1;
  if (!Number.isInteger(n) || n < 1) throw new Error(`--workers must be a positive integer, got ${argv[i + 1]}`);
  return n;
}

export function listenInWorkers(serve: () => void | Promise<void>, workers = workersArg()): void {
  if (workers === 1 || cluster.isWorker) {
    void Promise.resolve(serve()).catch((err: unknown) => {
      process.stderr.write(`${(err as Error)?.stack ?? String(err)}\n`);
      process.exit(1);
    });
    return;
  }
  let listening = 0;
  cluster.on("listening", (_worker, address) => {
    if (++listening === workers) process.stdout.write(`listening on http://127.0.0.1:${address.port}\n`);
  });
  cluster.on("exit", (_worker, code) => {
    if (!stopping) {
      process.stderr.write(`a worker exited with ${code}\n`);
      process.exit(1);
    }
  });
  let stopping = false;
  process.on("SIGTERM", () => {
    stopping = true;
    for (const w of Object.values(cluster.workers ?? {})) w?.kill("SIGTERM");
    setTimeout(() => process.exit(0), 200).unref();
    cluster.disconnect(() => process.exit(0));
  });
  for (let i = 0; i < workers; i++) cluster.fork();
}
