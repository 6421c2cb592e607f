/**
 * The local platform (the default, `local_mode: true`): everything in one workspace folder.
 *
 *   <workspace>/bucket/<exp>/...         objects, laid out like the original's S3 bucket
 *   <workspace>/records.duckdb           experiment, model and join-job records, metrics
 *   <workspace>/endpoints/<name>.json    running endpoint (pid, port, model id) + <name>.log
 *   <workspace>/endpoints/<name>.processes.json   tokens and URLs of its server processes (0600)
 *   <workspace>/jobs/<job>/              job folders (`/opt/ml` layout), kept when a job fails
 *   <workspace>/tmp/                     DuckDB spill space of joins
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { CleanupReport, JoinRequest, JoinResult, Platform } from "../types";
import { LocalHosting } from "./hosting";
import { LocalJobRunner, type JobMode } from "./jobs";
import { runLocalJoin } from "./join";
import { objectLayout } from "../layout";
import { LocalObjectStore } from "./objectStore";
import { DuckDbRecordStore } from "./records";

export { LocalObjectStore, objectPathOf, objectUriOf, type PathFlavor } from "./objectStore";
export { DuckDbRecordStore } from "./records";
export { DuckDbFile } from "./duckdbFile";
export { LocalJobRunner, type JobMode } from "./jobs";
export { LocalHosting, decisionLogUriOf, type RecordedProcess } from "./hosting";
export { runLocalJoin } from "./join";

export interface LocalPlatformOptions {
  workspace: string;
  /** How jobs run: in this process (default) or as `node container/*.js` child processes. */
  jobMode?: JobMode;
  /** DuckDB memory limit of joins (default 1GB). */
  joinMemoryLimit?: string;
}

export class LocalPlatform implements Platform {
  readonly kind = "local" as const;
  readonly workspace: string;
  readonly objects: LocalObjectStore;
  readonly layout = objectLayout;
  readonly records: DuckDbRecordStore;
  readonly jobs: LocalJobRunner;
  readonly hosting: LocalHosting;
  readonly metrics;

  constructor(private readonly options: LocalPlatformOptions) {
    this.workspace = path.resolve(options.workspace);
    fs.mkdirSync(this.workspace, { recursive: true });
    this.objects = new LocalObjectStore(path.join(this.workspace, "bucket"));
    this.records = new DuckDbRecordStore(path.join(this.workspace, "records.duckdb"));
    this.metrics = this.records.metrics;
    this.jobs = new LocalJobRunner(this.objects, path.join(this.workspace, "jobs"), options.jobMode ?? "in-process");
    this.hosting = new LocalHosting(this.objects, path.join(this.workspace, "endpoints"));
  }

  join(request: JoinRequest): Promise<JoinResult> {
    return runLocalJoin(this.objects, request, {
      tempDir: path.join(this.workspace, "tmp", "join"),
      memoryLimit: this.options.joinMemoryLimit,
    });
  }

  /**
   * Stops the endpoint and any other server of it a killed manager left running (a state file
   * naming a process that is not its server is dropped without a signal). With `deleteData`: the experiment's objects, its endpoint log, and the job folders its
   * failed or killed jobs left behind.
   */
  async cleanup(experimentId: string, options: { deleteData?: boolean } = {}): Promise<CleanupReport> {
    const { status, state } = await this.hosting.processStatus(experimentId);
    const endpointDeleted = await this.hosting.delete(experimentId);
    const removed: string[] = [];
    if (endpointDeleted) removed.push(`endpoint process ${experimentId}`);
    if (status === "stale") removed.push(`stale endpoint state ${experimentId} (pid ${state?.pid} is not its server any more; nothing was signalled)`);
    let objectsDeleted = 0;
    if (options.deleteData) {
      objectsDeleted = await this.objects.delete(this.objects.uriOf(objectLayout.experimentPrefix(experimentId)), { recursive: true });
      removed.push(`${objectsDeleted} objects under ${objectLayout.experimentPrefix(experimentId)}/`);
      for (const f of [this.hosting.logFile(experimentId), this.hosting.processesFile(experimentId)]) {
        if (fs.existsSync(f)) {
          fs.rmSync(f, { force: true });
          removed.push(f);
        }
      }
      const jobs = path.join(this.workspace, "jobs");
      const ofExperiment = jobFolderPattern(experimentId);
      for (const name of fs.existsSync(jobs) ? fs.readdirSync(jobs) : []) {
        if (!ofExperiment.test(name)) continue;
        fs.rmSync(path.join(jobs, name), { recursive: true, force: true });
        removed.push(path.join(jobs, name));
      }
    }
    return { endpointDeleted, removed, objectsDeleted };
  }

  close(): Promise<void> {
    return this.records.close();
  }
}

/** Job folders of one experiment: `<exp>-model-<suffix>` and `<exp>-model-<suffix>-eval-<suffix>`, not another experiment's. */
function jobFolderPattern(experimentId: string): RegExp {
  const id = experimentId.replace(/[^A-Za-z0-9]/g, (c) => `\\${c}`);
  return new RegExp(`^${id}-model-[0-9a-z]{12}(-eval-[0-9a-z]{12})?$`);
}

export function createLocalPlatform(options: LocalPlatformOptions): LocalPlatform {
  return new LocalPlatform(options);
}
