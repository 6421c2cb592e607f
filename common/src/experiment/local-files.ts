/**
 * Files an application writes on this machine for an experiment (a report, an export) that
 * clean-up removes with the experiment's data. The manager knows no application's paths: the
 * application registers each file it writes, and `cleanResource({ deleteData: true })` removes
 * what is registered — in any later process, because the list is kept in the workspace
 * (`experiment-files/<experiment id>.txt`, one absolute path a line). Only paths inside the
 * workspace can be registered, so clean-up never deletes anything outside it.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { resolveWorkspaceDir, type Config } from "../config";
import { validateExperimentId } from "./ids";

const REGISTRY_FOLDER = "experiment-files";

function registryFile(workspace: string, experimentId: string): string {
  return path.join(workspace, REGISTRY_FOLDER, `${validateExperimentId(experimentId)}.txt`);
}

/**
 * Registers a file (or folder) the application wrote for the experiment, so that
 * `cleanResource({ deleteData: true })` removes it. Throws for a path outside the workspace.
 */
export function registerExperimentFile(config: Pick<Config, "workspace" | "dir">, experimentId: string, file: string): void {
  const workspace = resolveWorkspaceDir(config);
  const target = path.resolve(file);
  const inside = path.relative(workspace, target);
  if (inside === "" || inside.startsWith("..") || path.isAbsolute(inside)) {
    throw new Error(
      `registerExperimentFile: ${target} is not inside the workspace ${workspace}; clean-up removes only files inside it ` +
        "(write the file under the workspace, or remove it yourself)",
    );
  }
  const registry = registryFile(workspace, experimentId);
  const known = fs.existsSync(registry) ? fs.readFileSync(registry, "utf8").split("\n") : [];
  if (known.includes(target)) return;
  fs.mkdirSync(path.dirname(registry), { recursive: true });
  fs.appendFileSync(registry, `${target}\n`);
}

/** Removes every registered file of the experiment that still exists, and the list; returns what was removed. */
export function removeExperimentFiles(workspace: string, experimentId: string): string[] {
  const registry = registryFile(workspace, experimentId);
  if (!fs.existsSync(registry)) return [];
  const files = [...new Set(fs.readFileSync(registry, "utf8").split("\n").filter((line) => line !== ""))];
  const removed = files.filter((f) => fs.existsSync(f));
  for (const f of removed) fs.rmSync(f, { recursive: true, force: true });
  fs.rmSync(registry, { force: true });
  return removed;
}
