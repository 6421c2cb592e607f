/**
 * The three Jupyter front ends the notebooks are tested in, each started as an attendee starts it
 * and stopped after the test:
 * - JupyterLab 4 and Notebook 7 from the project's .venv (`npm run python-env`, requirements.txt);
 * - the classic Notebook 6 from Debian (`apt-get install jupyter-notebook`), the README's apt route.
 *
 * They run over a copy of the notebooks (a "site": the front ends save into what they open), laid
 * out as the project (site/notebooks/*.ipynb, site/node_modules linking this checkout's), with
 * private Jupyter data, config and runtime folders holding the cbkit kernel: the machine's own
 * Jupyter settings and kernels are left alone.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { listNotebooks, notebooksDir, projectRoot } from "../notebooks/harness";
import { canImport, missingTool, PYTHON_ENV_COMMAND, venvPython } from "../python-tools";

export type FrontEndName = "jupyterlab" | "notebook7" | "classic";

export const FRONT_END_LABEL: Record<FrontEndName, string> = {
  jupyterlab: "JupyterLab 4",
  notebook7: "Notebook 7",
  classic: "classic Notebook 6",
};

/** The Python that runs a front end, or undefined when it is not installed. */
export function frontEndPython(name: FrontEndName): string | undefined {
  if (name === "classic") {
    return [process.env.CLASSIC_NOTEBOOK_PYTHON, "/usr/bin/python3", "python3"].find((py) => py && canImport(py, ["notebook.notebookapp"]));
  }
  const py = venvPython();
  return py && canImport(py, [name === "jupyterlab" ? "jupyterlab" : "notebook.app"]) ? py : undefined;
}

/** Why `test` cannot run `name` here (naming the install command), or false; throws under CI. */
export function frontEndMissing(name: FrontEndName, test: string): string | false {
  if (frontEndPython(name)) return false;
  const install =
    name === "classic"
      ? "sudo apt-get install jupyter-notebook (Debian/Ubuntu), or set CLASSIC_NOTEBOOK_PYTHON to a Python that has notebook 6"
      : `run \`${PYTHON_ENV_COMMAND}\` (a .venv with requirements-dev.txt)`;
  return missingTool(test, FRONT_END_LABEL[name], install);
}

export interface JupyterSite {
  /** The project-like folder the servers serve (its notebooks/ holds the notebook copies). */
  dir: string;
  notebooks: string;
  /** The environment with the private Jupyter folders (JUPYTER_DATA_DIR, ...). */
  env: NodeJS.ProcessEnv;
  /** The private kernelspec folder of the cbkit kernel. */
  kernelDir: string;
  close(): void;
}

/** A fresh site with a copy of every notebook and the cbkit kernel registered privately. */
export function makeSite(): JupyterSite {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cbkit-site-"));
  const jupyter = path.join(dir, ".jupyter");
  const env = {
    ...process.env,
    JUPYTER_DATA_DIR: path.join(jupyter, "data"),
    JUPYTER_RUNTIME_DIR: path.join(jupyter, "runtime"),
    JUPYTER_CONFIG_DIR: path.join(jupyter, "config"),
    JUPYTERLAB_SETTINGS_DIR: path.join(jupyter, "lab-settings"),
    JUPYTERLAB_WORKSPACES_DIR: path.join(jupyter, "lab-workspaces"),
    PYDEVD_DISABLE_FILE_VALIDATION: "1",
  };
  // No "get notified about Jupyter news?" toast over the screenshots (and no news fetched).
  const notification = path.join(env.JUPYTERLAB_SETTINGS_DIR, "@jupyterlab", "apputils-extension", "notification.jupyterlab-settings");
  fs.mkdirSync(path.dirname(notification), { recursive: true });
  fs.writeFileSync(notification, JSON.stringify({ fetchNews: "false" }));
  const notebooks = path.join(dir, "notebooks");
  fs.mkdirSync(notebooks);
  for (const nb of listNotebooks()) fs.copyFileSync(path.join(notebooksDir, nb), path.join(notebooks, nb));
  // The kernel's launcher finds this checkout's tslab (and so its kit) through node_modules.
  fs.symlinkSync(path.join(projectRoot, "node_modules"), path.join(dir, "node_modules"), "dir");
  const r = spawnSync(process.execPath, [path.join(projectRoot, "scripts", "install-kernel.js")], { encoding: "utf8", env });
  if (!/kernel "cbkit"/.test(r.stdout)) throw new Error(`install-kernel failed for the test site:\n${r.stdout}${r.stderr}`);
  return {
    dir,
    notebooks,
    env,
    kernelDir: path.join(env.JUPYTER_DATA_DIR, "kernels", "cbkit"),
    close: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

export interface JupyterServer {
  frontEnd: FrontEndName;
  /** Base URL, e.g. http://127.0.0.1:8123 */
  url: string;
  /** The folder the server was started in. */
  root: string;
  /** The page that opens a notebook, by its path under `root` (e.g. "notebooks/0_setup_and_data.ipynb"). */
  notebookUrl(relPath: string): string;
  /** Shuts every kernel of the server down (a page's kernel outlives the page). */
  stopKernels(): Promise<void>;
  close(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

function serverArgs(name: FrontEndName, port: number, root: string): string[] {
  const common = ["--no-browser", `--port=${port}`, "--port-retries=0", "--ip=127.0.0.1", "--allow-root"];
  if (name === "classic") return ["-m", "notebook", ...common, `--notebook-dir=${root}`, "--NotebookApp.token=", "--NotebookApp.password="];
  const server = [...common, `--ServerApp.root_dir=${root}`, "--IdentityProvider.token=", "--ServerApp.password="];
  // expose_app_in_browser: window.jupyterapp, to run the commands the menus run (Run All, Save).
  if (name === "jupyterlab") return ["-m", "jupyterlab", ...server, "--LabApp.expose_app_in_browser=True"];
  return ["-m", "notebook", ...server, "--JupyterNotebookApp.expose_app_in_browser=True"];
}

/** Starts a front end's server in `root` (as `jupyter lab` / `jupyter notebook` run there), no token, loopback only. */
export async function startJupyter(name: FrontEndName, root: string, env: NodeJS.ProcessEnv): Promise<JupyterServer> {
  const py = frontEndPython(name);
  if (!py) throw new Error(`${FRONT_END_LABEL[name]} is not installed`);
  const port = await freePort();
  const child: ChildProcess = spawn(py, serverArgs(name, port, root), { env, stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  child.stderr?.on("data", (b) => (log = (log + b).slice(-8000)));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${FRONT_END_LABEL[name]} exited (${child.exitCode}):\n${log}`);
    if (await fetch(`${url}/api`).then((r) => r.ok, () => false)) break;
    if (Date.now() > deadline) {
      child.kill("SIGTERM");
      throw new Error(`${FRONT_END_LABEL[name]} did not answer on ${url} within 90 s:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  const stopKernels = async () => {
    const sessions = (await (await fetch(`${url}/api/sessions`)).json()) as { id: string }[];
    for (const s of sessions) await fetch(`${url}/api/sessions/${s.id}`, { method: "DELETE" });
  };
  return {
    frontEnd: name,
    url,
    root,
    // JupyterLab would reopen every notebook of earlier visits (its workspace); ?reset opens just this one.
    notebookUrl: (rel) => `${url}/${name === "jupyterlab" ? "lab/tree" : "notebooks"}/${rel.split(path.sep).map(encodeURIComponent).join("/")}${name === "jupyterlab" ? "?reset" : ""}`,
    stopKernels,
    close: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        // SIGTERM shuts the server down with its kernels; SIGKILL if it hangs.
        const force = setTimeout(() => child.kill("SIGKILL"), 20_000);
        child.on("exit", () => {
          clearTimeout(force);
          resolve();
        });
        child.kill("SIGTERM");
      }),
  };
}
