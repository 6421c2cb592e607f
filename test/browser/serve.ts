/**
 * Serves the notebooks over HTTP the way an attendee opens them, from a chosen root folder, so the
 * browser test can check that the diagrams (`images/x.svg`, beside the notebooks) resolve whether
 * Jupyter was started in the project root or in notebooks/:
 * - the classic Jupyter Notebook server (Debian's jupyter-notebook), when it is installed;
 * - otherwise (and also) a static server that answers `x.html` with the nbconvert export of the
 *   `x.ipynb` at the same path (images not embedded) and every other path with the real file.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { findJupyterPython } from "../notebooks/harness";

export interface Server {
  /** Base URL, e.g. http://127.0.0.1:8123 */
  url: string;
  close(): Promise<void>;
}

/** Diagrams a notebook's markdown links, in order of appearance (`](images/x.svg)` or `src="images/x.svg"`). */
export function diagramLinks(notebookFile: string): string[] {
  const nb = JSON.parse(fs.readFileSync(notebookFile, "utf8")) as { cells: { cell_type: string; source: string | string[] }[] };
  const text = nb.cells
    .filter((c) => c.cell_type === "markdown")
    .map((c) => (Array.isArray(c.source) ? c.source.join("") : c.source))
    .join("\n");
  return [...text.matchAll(/(?:\]\(|src=["'])(images\/[\w.-]+\.svg)/g)].map((m) => m[1]);
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** nbconvert's HTML of a notebook, images left as links (so the browser must fetch them). */
export function exportLinkedHtml(notebookFile: string): string {
  const py = findJupyterPython();
  if (!py) throw new Error("no Python with nbconvert found (see .ci/run)");
  const out = fs.mkdtempSync(path.join(os.tmpdir(), "cbkit-nbconvert-"));
  try {
    const r = spawnSync(py, ["-m", "nbconvert", "--to", "html", "--output-dir", out, notebookFile], {
      encoding: "utf8",
      env: { ...process.env, PYDEVD_DISABLE_FILE_VALIDATION: "1" },
      timeout: 120_000,
    });
    const file = path.join(out, path.basename(notebookFile).replace(/\.ipynb$/, ".html"));
    if (r.status !== 0 || !fs.existsSync(file)) throw new Error(`nbconvert --to html failed for ${notebookFile} (exit ${r.status}):\n${(r.stderr ?? "").slice(-2000)}`);
    return fs.readFileSync(file, "utf8");
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
}

const TYPES: Record<string, string> = { ".svg": "image/svg+xml", ".png": "image/png", ".html": "text/html; charset=utf-8", ".css": "text/css", ".js": "text/javascript" };

/**
 * A static HTTP server over `root`: `/a/b.html` is the nbconvert export of `root/a/b.ipynb`
 * (exported once, on first request), every other path the file under `root` (nothing outside it).
 */
export async function startStaticServer(root: string): Promise<Server> {
  const exports = new Map<string, string>();
  const server = http.createServer((req, res) => {
    const rel = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname).replace(/^\/+/, "");
    const file = path.resolve(root, rel);
    if (file !== root && !file.startsWith(root + path.sep)) return void res.writeHead(403).end();
    const notebook = file.replace(/\.html$/, ".ipynb");
    try {
      if (file.endsWith(".html") && fs.existsSync(notebook)) {
        if (!exports.has(notebook)) exports.set(notebook, exportLinkedHtml(notebook));
        res.writeHead(200, { "content-type": TYPES[".html"] }).end(exports.get(notebook));
      } else if (fs.existsSync(file) && fs.statSync(file).isFile()) {
        res.writeHead(200, { "content-type": TYPES[path.extname(file)] ?? "application/octet-stream" }).end(fs.readFileSync(file));
      } else {
        res.writeHead(404).end("not found");
      }
    } catch (e) {
      res.writeHead(500).end(String(e));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

/** The Python that has the classic Notebook (Debian's jupyter-notebook), or undefined. */
export function findNotebookPython(): string | undefined {
  for (const py of [process.env.JUPYTER_PYTHON, "/usr/bin/python3", "python3"]) {
    if (py && spawnSync(py, ["-c", "import notebook.notebookapp"], { encoding: "utf8" }).status === 0) return py;
  }
  return undefined;
}

/**
 * Starts the classic Jupyter Notebook server with `root` as its folder (as `jupyter notebook` run
 * there), no token, on a free loopback port; `env` should carry a private JUPYTER_DATA_DIR and
 * JUPYTER_RUNTIME_DIR. close() stops it with SIGTERM, which also shuts its kernels down.
 */
export async function startNotebookServer(py: string, root: string, env: NodeJS.ProcessEnv): Promise<Server> {
  const port = await freePort();
  const args = ["-m", "notebook", "--no-browser", `--port=${port}`, "--port-retries=0", "--ip=127.0.0.1", `--notebook-dir=${root}`];
  args.push("--NotebookApp.token=", "--NotebookApp.password=", "--allow-root");
  const child: ChildProcess = spawn(py, args, { env: { ...env, PYDEVD_DISABLE_FILE_VALIDATION: "1" }, stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  child.stderr?.on("data", (b) => (log = (log + b).slice(-8000)));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`jupyter notebook exited (${child.exitCode}):\n${log}`);
    const ok = await fetch(`${url}/api`).then((r) => r.ok, () => false);
    if (ok) break;
    if (Date.now() > deadline) {
      child.kill("SIGTERM");
      throw new Error(`jupyter notebook did not answer on ${url} within 60 s:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return {
    url,
    close: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        const force = setTimeout(() => child.kill("SIGKILL"), 20_000);
        child.on("exit", () => {
          clearTimeout(force);
          resolve();
        });
        child.kill("SIGTERM");
      }),
  };
}
