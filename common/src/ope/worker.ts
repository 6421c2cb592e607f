/**
 * An evaluation worker thread (see worker-channel.ts): it adds the batches of rows it is sent to
 * the cross-fitting's fold statistics (FoldSets) or to the bootstrap's sums (BootstrapSums),
 * answers each batch with "done" and the finish with the sums.
 */
import { parentPort } from "node:worker_threads";
import { BootstrapSums } from "./bootstrap-sums";
import { FoldSets } from "./fold-stats";
import type { WorkerMessage } from "./worker-channel";

let sums: BootstrapSums | null = null;
let folds: FoldSets | null = null;

parentPort?.on("message", (m: WorkerMessage) => {
  switch (m.type) {
    case "bootstrap":
      sums = new BootstrapSums(m.from, m.to, m.quantities, m.seedWord);
      return;
    case "folds":
      folds = new FoldSets(m.p, m.maxNonZero, m.numArms, m.folds, m.seedWords);
      return;
    case "rows": {
      const s = sums as BootstrapSums;
      for (let i = 0; i < m.n; i++) s.addKeyed(m.keys[i], m.u, i * s.quantities);
      break;
    }
    case "fold-rows": {
      const f = folds as FoldSets;
      for (let i = 0; i < m.n; i++) f.add(m.idx, m.val, i * m.m, m.m, m.rows[3 * i], m.rows[3 * i + 1], m.rows[3 * i + 2]);
      break;
    }
    case "finish":
      if (sums) parentPort?.postMessage({ type: "result", value: sums.reps }, [sums.reps.buffer as ArrayBuffer]);
      else if (folds) {
        const parts = folds.toParts();
        // Every sum's buffer moves to the evaluating thread (no copy).
        const buffers = parts.flatMap((set) => set.stats.flatMap((st) => [...st.A, ...st.b, st.count, st.sumCost].map((a) => a.buffer as ArrayBuffer)));
        parentPort?.postMessage({ type: "result", value: parts }, buffers);
      }
      return;
  }
  parentPort?.postMessage({ type: "done" });
});
