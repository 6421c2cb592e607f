/**
 * Where things are: the project root (the folder whose package.json declares npm workspaces) and
 * the default location of the shuttle data file. Notebooks run with cwd = notebooks/, tests with
 * cwd = the root, the CLI from anywhere, so the root is found by walking up from this module's
 * own folder first and from the working directory second.
 */
import * as fs from "node:fs";
import * as path from "node:path";

let cachedRoot: string | undefined;

function isWorkspaceRoot(dir: string): boolean {
  const file = path.join(dir, "package.json");
  if (!fs.existsSync(file)) return false;
  try {
    const pkg = JSON.parse(fs.readFileSync(file, "utf8")) as { workspaces?: unknown };
    return pkg.workspaces !== undefined;
  } catch {
    return false;
  }
}

function walkUp(start: string): string | undefined {
  let dir = path.resolve(start);
  for (;;) {
    if (isWorkspaceRoot(dir)) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/**
 * The project root: the nearest folder above this module (or above the working directory) whose
 * package.json has "workspaces". Throws when neither search finds one.
 */
export function findProjectRoot(): string {
  if (cachedRoot) return cachedRoot;
  const root = walkUp(__dirname) ?? walkUp(process.cwd());
  if (!root) {
    throw new Error(
      `cannot find the project root (a package.json with "workspaces") above ${__dirname} or ${process.cwd()}`,
    );
  }
  cachedRoot = root;
  return root;
}

/** The default shuttle data file: `<projectRoot>/../shared/data/shuttle.trn`. */
export function defaultShuttleDataFile(projectRoot: string = findProjectRoot()): string {
  return path.resolve(projectRoot, "..", "shared", "data", "shuttle.trn");
}
