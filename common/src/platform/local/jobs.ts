/**
 * Local training and evaluation jobs: each job gets a folder `<workspace>/jobs/<job name>/` laid
 * out as SageMaker's `/opt/ml` (see container/contract.ts), its input channels copied from the
 * object store, and runs the very entry points the container runs — in this process (fast, the
 * default) or as a child process `node common/dist/container/<train|evaluate>.js --root <folder>`
 * (exactly what the container does). The output folder is uploaded to the requested URI; the
 * job's log is returned; a failure throws `JobFailedError` with the `output/failure` reason.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { filesUnder, SCORE_FILE, writeFailure, writeJobFolder, type Channel, type JobLog, type JobPaths } from "../../container/contract";
import { entryPointScript } from "../../container/entry-points";
import { evaluateJob } from "../../container/evaluate";
import { trainJob } from "../../container/train";
import { MODEL_JSON, type ModelMetadata } from "../../learner/model";
import { parseScore } from "../../ope";
import {
  JobFailedError,
  type EvaluationJobRequest,
  type EvaluationJobResult,
  type JobRunner,
  type TrainingJobRequest,
  type TrainingJobResult,
  type TrainingRowsReport,
} from "../types";
import type { LocalObjectStore } from "./objectStore";
import { safeSegment } from "../layout";
import { DiskFullError, freeBytes, isOutOfSpace } from "../../util/disk";

export type JobMode = "in-process" | "process";

const MAX_LOG_CHARS = 200_000;

export class LocalJobRunner implements JobRunner {
  constructor(
    private readonly store: LocalObjectStore,
    private readonly jobsDir: string,
    readonly mode: JobMode = "in-process",
    /** Keep job folders after success (they are always kept after a failure). */
    private readonly keepJobFolders = false,
  ) {}

  async runTraining(request: TrainingJobRequest): Promise<TrainingJobResult> {
    const channels: Partial<Record<Channel, string>> = {};
    if (request.trainingDataUri) channels.training = request.trainingDataUri;
    if (request.pretrainedModelUri) channels.pretrained_model = request.pretrainedModelUri;
    const r = await this.run("train", request.jobName, request.hyperparameters, channels, request.outputUri);
    const rows = await this.trainingRows(request.outputUri);
    return { ...r.result, modelArtifactUri: request.outputUri, ...(rows ? { rows } : {}) };
  }

  /** The rows the saved model says its training used and skipped (model.json `training`), or null. */
  private async trainingRows(modelUri: string): Promise<TrainingRowsReport | null> {
    try {
      const meta = JSON.parse((await this.store.get(`${modelUri}/${MODEL_JSON}`)).toString("utf8")) as Partial<ModelMetadata>;
      const t = meta.training;
      return t ? { used: t.used, skipped: t.skipped, first_skipped: t.firstSkipped } : null;
    } catch {
      return null;
    }
  }

  async runEvaluation(request: EvaluationJobRequest): Promise<EvaluationJobResult> {
    const r = await this.run(
      "evaluate",
      request.jobName,
      request.hyperparameters,
      { evaluation: request.evaluationDataUri, pretrained_model: request.modelUri },
      request.outputUri,
    );
    const scoreUri = `${request.outputUri}/${SCORE_FILE}`;
    const score = parseScore((await this.store.get(scoreUri)).toString("utf8"), scoreUri);
    return { ...r.result, score, scoreUri };
  }

  /**
   * Runs a job in its folder. A full disk anywhere (the inputs, the job's own writes, the upload)
   * fails the job with a DiskFullError naming the path, and its folder is removed rather than
   * kept: on a full disk the space matters more than the folder.
   */
  private async run(
    kind: "train" | "evaluate",
    jobName: string,
    hyperparameters: Record<string, string>,
    channels: Partial<Record<Channel, string>>,
    outputUri: string,
  ) {
    const root = path.join(this.jobsDir, safeSegment(jobName, "job name"));
    try {
      return await this.runIn(root, kind, jobName, hyperparameters, channels, outputUri);
    } catch (err) {
      // A job run as a process reports a full disk only in its failure reason.
      if (!isOutOfSpace(err instanceof JobFailedError ? err.failureReason : err)) throw err;
      fs.rmSync(root, { recursive: true, force: true });
      const full = err instanceof DiskFullError ? err : new DiskFullError(root, freeBytes(root), `${kind === "train" ? "training" : "evaluation"} job ${jobName}`, { cause: err });
      throw new JobFailedError(jobName, full.message, err instanceof JobFailedError ? err.logs : "");
    }
  }

  private async runIn(
    root: string,
    kind: "train" | "evaluate",
    jobName: string,
    hyperparameters: Record<string, string>,
    channels: Partial<Record<Channel, string>>,
    outputUri: string,
  ) {
    fs.rmSync(root, { recursive: true, force: true });
    const paths = writeJobFolder(root, hyperparameters);
    for (const [name, uri] of Object.entries(channels) as [Channel, string][]) {
      const files = await this.store.download(uri, paths.channel(name));
      if (files.length === 0) fs.mkdirSync(paths.channel(name), { recursive: true });
    }
    const startTime = new Date().toISOString();
    const lines: string[] = [];
    let size = 0;
    const log: JobLog = (line) => {
      if (size < MAX_LOG_CHARS) lines.push(line);
      size += line.length + 1;
    };
    log(`[${startTime}] ${kind} job ${jobName} (${this.mode})`);
    let ok: boolean;
    if (this.mode === "in-process") ok = await this.runInProcess(kind, paths, log);
    else ok = await this.runAsProcess(kind, paths, log);
    const logs = lines.join("\n");
    if (!ok) {
      let reason = "the job failed without writing output/failure";
      try {
        reason = fs.readFileSync(paths.failureFile, "utf8").trim();
      } catch {
        /* keep the generic reason */
      }
      throw new JobFailedError(jobName, `${reason} (job folder: ${root})`, logs);
    }
    // Upload the model folder (the artifact, or score.json) to the output URI.
    await this.store.delete(outputUri, { recursive: true });
    for (const file of filesUnder(paths.modelDir)) await this.store.putFile(`${outputUri}/${file}`, path.join(paths.modelDir, file));
    const endTime = new Date().toISOString();
    if (!this.keepJobFolders) fs.rmSync(root, { recursive: true, force: true });
    return { result: { jobName, status: "Completed" as const, startTime, endTime, logs } };
  }

  private async runInProcess(kind: "train" | "evaluate", paths: JobPaths, log: JobLog): Promise<boolean> {
    try {
      if (kind === "train") await trainJob(paths, log);
      else await evaluateJob(paths, log);
      return true;
    } catch (err) {
      log(`error: ${err instanceof Error ? err.message : String(err)}`);
      // On a full disk even the failure file may not fit: the error itself carries the reason.
      if (isOutOfSpace(err)) throw err;
      writeFailure(paths, err);
      return false;
    }
  }

  private runAsProcess(kind: "train" | "evaluate", paths: JobPaths, log: JobLog): Promise<boolean> {
    const script = entryPointScript(kind);
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [script, "--root", paths.root], { stdio: ["ignore", "pipe", "pipe"] });
      let buf = "";
      const onData = (d: Buffer) => {
        buf += d.toString("utf8");
        let i: number;
        while ((i = buf.indexOf("\n")) >= 0) {
          log(buf.slice(0, i));
          buf = buf.slice(i + 1);
        }
      };
      child.stdout.on("data", onData);
      child.stderr.on("data", onData);
      child.on("error", reject);
      child.on("close", (code) => {
        if (buf) log(buf);
        resolve(code === 0);
      });
    });
  }
}
