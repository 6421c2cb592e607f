/**
 * A worker thread that adds rows to BootstrapSums while the evaluating thread scores the next
 * ones (evaluatePolicy on large inputs): it answers each batch of rows with "done" and the
 * finish with the sums.
 */
import { parentPort } from "node:worker_threads";
import { BootstrapMessage, BootstrapSums } from "./bootstrap-sums";

let sums: BootstrapSums | null = null;
parentPort?.on("message", (m: BootstrapMessage) => {
  if (m.type === "start") sums = new BootstrapSums(m.replicates, m.quantities, m.seedWord);
  else if (m.type === "rows") {
    const s = sums as BootstrapSums;
    for (let i = 0; i < m.n; i++) s.addKeyed(m.keys[i], m.u, i * s.quantities);
    parentPort?.postMessage({ type: "done" });
  } else {
    const reps = (sums as BootstrapSums).reps;
    parentPort?.postMessage({ type: "sums", reps }, [reps.buffer as ArrayBuffer]);
  }
});
