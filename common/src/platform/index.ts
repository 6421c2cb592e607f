import * as fs from "node:fs";
import { resolveWorkspaceDir, type Config } from "../config";
import { createLocalPlatform, type JobMode } from "./local";
import type { Platform } from "./types";

// The platform face (@cbkit/common/platform): the contract, the object layout, the choice of
// platform. The two platforms have their own subpaths: @cbkit/common/local, @cbkit/common/sagemaker.
export * from "./types";
export * from "./layout";
// SageMaker costs, without the AWS SDK: the run estimates of npm start and notebook 3 use them in any mode.
export * from "./sagemaker/cost";

export interface CreatePlatformOptions {
  /** Local mode: run jobs in this process (default) or as child processes. */
  jobMode?: JobMode;
}

/** The platform a config selects: local (default) or SageMaker (`local_mode: false`). */
export async function createPlatform(config: Config, options: CreatePlatformOptions = {}): Promise<Platform> {
  if (config.local_mode) {
    const workspace = resolveWorkspaceDir(config);
    fs.mkdirSync(workspace, { recursive: true });
    return createLocalPlatform({ workspace, jobMode: options.jobMode });
  }
  // Required here, not imported above: local mode never loads the AWS control-plane clients.
  const { createSageMakerPlatform } = require("./sagemaker/platform") as typeof import("./sagemaker/platform");
  return createSageMakerPlatform(config);
}
