/**
 * Diagrams load whichever folder Jupyter is started in. The notebooks are served over HTTP from
 * the project root and from notebooks/ — by the classic Jupyter Notebook server when it is
 * installed, and by a static server over nbconvert's HTML at the notebook's own path — and
 * headless Chromium checks that every diagram the markdown links (`images/x.svg`) loaded
 * (naturalWidth > 0). Screenshots of every diagram and of each page go to
 * test-output/screenshots/served/<server>-<root>/.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import type { Browser, Page } from "playwright-core";
import { listNotebooks, notebooksDir, projectRoot } from "../notebooks/harness";
import { browserAvailable, launchBrowser, screenshotDir } from "./render";
import { diagramLinks, findNotebookPython, startNotebookServer, startStaticServer, type Server } from "./serve";

const skip = browserAvailable();
const notebookPython = findNotebookPython();
const withDiagrams = listNotebooks().filter((n) => diagramLinks(path.join(notebooksDir, n)).length > 0);

interface Diagram {
  path: string;
  loaded: boolean;
  width: number;
}

// Every <img> whose URL path ends in /images/<name>.svg, with whether it loaded.
const DIAGRAMS = `[...document.images].filter((i) => /\\/images\\/[\\w.-]+\\.svg$/.test(new URL(i.src).pathname))
  .map((i) => ({ path: new URL(i.src).pathname, loaded: i.complete && i.naturalWidth > 0, width: i.naturalWidth }))`;
const ALL_SETTLED = (n: number) => `(() => { const d = ${DIAGRAMS}; return d.length >= ${n} && [...document.images].every((i) => i.complete); })()`;
// The classic Notebook scrolls inside #site; let the page grow so a full-page screenshot shows all.
const UNSCROLL = `(() => { const s = document.getElementById("site"); if (s) { s.style.height = "auto"; s.style.overflow = "visible"; } document.body.style.overflow = "visible"; document.body.style.height = "auto"; })()`;

let browser: Browser | undefined;
before(async () => {
  if (!skip) browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

/** Opens `url`, waits for the diagrams, screenshots them and the page, and returns what loaded. */
async function inspect(page: Page, url: string, expected: string[], shotDir: string, name: string): Promise<Diagram[]> {
  // Only the local server: nbconvert's template links CDN scripts this offline check does not need.
  await page.route(/^https?:\/\/(?!127\.0\.0\.1[:/])/, (route) => route.abort());
  const response = await page.goto(url, { waitUntil: "load", timeout: 90_000 });
  assert.equal(response?.status(), 200, `${url} answered ${response?.status()}`);
  await page.waitForFunction(ALL_SETTLED(expected.length), undefined, { timeout: 60_000, polling: 250 }).catch(() => undefined);
  const diagrams = (await page.evaluate(DIAGRAMS)) as Diagram[];
  fs.mkdirSync(shotDir, { recursive: true });
  const images = await page.$$("img");
  let shot = 0;
  for (const img of images) {
    const src = (await img.getAttribute("src")) ?? "";
    if (!/images\/[\w.-]+\.svg$/.test(src)) continue;
    shot++;
    await img.screenshot({ path: path.join(shotDir, `${name}-${shot}-${path.basename(src, ".svg")}.png`) });
  }
  await page.evaluate(UNSCROLL);
  await page.screenshot({ path: path.join(shotDir, `${name}.png`), fullPage: true });
  return diagrams;
}

function assertAllLoaded(diagrams: Diagram[], expected: string[], urlDir: string): void {
  assert.deepEqual(
    diagrams.map((d) => path.posix.basename(d.path)),
    expected.map((e) => path.posix.basename(e)),
    "every diagram the markdown links is on the page, in order",
  );
  assert.deepEqual(diagrams.filter((d) => !d.loaded).map((d) => d.path), [], "every diagram loaded (naturalWidth > 0)");
  for (const d of diagrams) assert.ok(d.path.includes(`${urlDir}images/`), `${d.path} resolved beside the notebook (${urlDir}images/)`);
}

// Served from the project root the notebooks are at /notebooks/x; from notebooks/ at /x.
const roots = [
  { label: "project-root", dir: projectRoot, urlDir: "notebooks/" },
  { label: "notebooks-dir", dir: notebooksDir, urlDir: "" },
];

describe("diagrams over a static server (nbconvert HTML beside each .ipynb)", { skip }, () => {
  for (const root of roots) {
    test(`served from ${root.label}: every diagram of every notebook loads`, async () => {
      const server = await startStaticServer(root.dir);
      const page = await browser!.newPage({ viewport: { width: 1280, height: 900 } });
      try {
        for (const nb of withDiagrams) {
          const expected = diagramLinks(path.join(notebooksDir, nb));
          const url = `${server.url}/${root.urlDir}${nb.replace(/\.ipynb$/, ".html")}`;
          const shotDir = path.join(screenshotDir, "served", `static-${root.label}`);
          const diagrams = await inspect(page, url, expected, shotDir, nb.replace(/\.ipynb$/, ""));
          assertAllLoaded(diagrams, expected, `/${root.urlDir}`);
        }
      } finally {
        await page.close();
        await server.close();
      }
    });
  }
});

const notebookSkip = skip || (notebookPython ? false : "the classic Jupyter Notebook is not installed (Debian: apt-get install jupyter-notebook)");

describe("diagrams in the classic Jupyter Notebook", { skip: notebookSkip }, () => {
  // A copy of the notebooks (the Notebook may autosave what it opens), laid out as in the project,
  // with node_modules linked so the kernel finds this checkout's tslab, and a private Jupyter
  // data dir holding the cbkit kernel (the machine's kernels are left alone).
  const site = fs.mkdtempSync(path.join(os.tmpdir(), "cbkit-site-"));
  const jupyterDir = path.join(site, ".jupyter");
  const env = {
    ...process.env,
    JUPYTER_DATA_DIR: path.join(jupyterDir, "data"),
    JUPYTER_RUNTIME_DIR: path.join(jupyterDir, "runtime"),
    JUPYTER_CONFIG_DIR: path.join(jupyterDir, "config"),
  };
  before(() => {
    fs.mkdirSync(path.join(site, "notebooks"));
    for (const nb of listNotebooks()) fs.copyFileSync(path.join(notebooksDir, nb), path.join(site, "notebooks", nb));
    fs.cpSync(path.join(notebooksDir, "images"), path.join(site, "notebooks", "images"), { recursive: true });
    fs.symlinkSync(path.join(projectRoot, "node_modules"), path.join(site, "node_modules"), "dir");
    const r = spawnSync(process.execPath, [path.join(projectRoot, "scripts", "install-kernel.js")], { encoding: "utf8", env });
    assert.match(r.stdout, /kernel "cbkit"/, r.stdout + r.stderr);
  });
  after(() => fs.rmSync(site, { recursive: true, force: true }));

  /**
   * Runs two queued long cells with Run All in the Notebook page, asks for kernel info and a
   * completion meanwhile (as the front end does on reconnects and Tab), and records the kernel
   * indicator's title ("Kernel Busy" / "Kernel Idle") at each change from Run All until shortly
   * after the last output, marking the changes that came after it.
   */
  async function indicatorDuringRunAll(server: Server, kernel: string): Promise<{ titles: string[]; outputs: string }> {
    const name = `status-${kernel}.ipynb`;
    const cell = (source: string) => ({ cell_type: "code", execution_count: null, metadata: {}, outputs: [], source });
    const nb = {
      cells: [
        cell("await new Promise((r) => setTimeout(r, 4000)); console.log('A done');"),
        cell("await new Promise((r) => setTimeout(r, 2000)); console.log('B done');"),
      ],
      metadata: { kernelspec: { name: kernel, display_name: kernel, language: "typescript" } },
      nbformat: 4,
      nbformat_minor: 5,
    };
    fs.writeFileSync(path.join(site, "notebooks", name), JSON.stringify(nb));
    const page = await browser!.newPage({ viewport: { width: 1280, height: 700 } });
    try {
      await page.goto(`${server.url}/notebooks/notebooks/${name}`, { waitUntil: "load", timeout: 90_000 });
      await page.waitForFunction(`window.Jupyter?.notebook?.kernel?.is_connected() && document.querySelector("#kernel_indicator_icon")?.title === "Kernel Idle"`, undefined, { timeout: 90_000, polling: 250 });
      await page.evaluate(`(() => {
        window.cbkitTitles = [];
        const icon = document.querySelector("#kernel_indicator_icon");
        const bDone = () => Jupyter.notebook.get_cell(1).output_area.outputs.some((o) => String(o.text).includes("B done"));
        // Changes in the first half second belong to requests sent before the cells started (they
        // would flicker the same with any kernel); the cells run for 6 s after that.
        const start = performance.now();
        const early = () => performance.now() - start < 500;
        new MutationObserver(() => { if (!early()) window.cbkitTitles.push(icon.title + (bDone() ? " (after B's output)" : "")); })
          .observe(icon, { attributes: true, attributeFilter: ["title", "class"] });
        Jupyter.notebook.execute_all_cells();
        setTimeout(() => { Jupyter.notebook.kernel.kernel_info(); Jupyter.notebook.kernel.complete("Math.", 5); }, 1000);
      })()`);
      const lastOutput = `Jupyter.notebook.get_cell(1).output_area.outputs.some((o) => String(o.text).includes("B done"))`;
      await page.waitForFunction(lastOutput, undefined, { timeout: 60_000, polling: 100 });
      await page.waitForTimeout(1000);
      const titles = (await page.evaluate("window.cbkitTitles.slice()")) as string[];
      const outputs = (await page.evaluate(`[0, 1].map((i) => Jupyter.notebook.get_cell(i).output_area.outputs.map((o) => o.text).join("")).join("")`)) as string;
      fs.mkdirSync(path.join(screenshotDir, "served"), { recursive: true });
      await page.screenshot({ path: path.join(screenshotDir, "served", `kernel-indicator-${kernel}.png`) });
      return { titles, outputs };
    } finally {
      await page.close();
    }
  }

  test("jupyter notebook: the kernel indicator stays busy through Run All with the cbkit kernel (plain tslab shows idle)", async () => {
    const plain = path.join(env.JUPYTER_DATA_DIR, "kernels", "plain-tslab");
    fs.mkdirSync(plain, { recursive: true });
    const argv = [process.execPath, path.join(projectRoot, "node_modules", "tslab", "bin", "tslab"), "kernel", "--config-path", "{connection_file}"];
    fs.writeFileSync(path.join(plain, "kernel.json"), JSON.stringify({ argv, display_name: "plain tslab", language: "typescript" }));
    const server = await startNotebookServer(notebookPython!, site, env);
    try {
      const cbkit = await indicatorDuringRunAll(server, "cbkit");
      assert.equal(cbkit.outputs, "A done\nB done\n");
      // Until B's output the kernel was running code: the indicator must say busy all along.
      assert.ok(cbkit.titles.includes("Kernel Busy"), `the indicator turned busy: ${cbkit.titles.join(", ")}`);
      assert.ok(!cbkit.titles.includes("Kernel Idle"), `cbkit: never idle while cells run: ${cbkit.titles.join(", ")}`);
      assert.equal(cbkit.titles.at(-1), "Kernel Idle (after B's output)", "idle once the last cell is done");
      const tslab = await indicatorDuringRunAll(server, "plain-tslab");
      assert.equal(tslab.outputs, "A done\nB done\n");
      // The control: plain tslab turns the indicator idle mid-run (if not, tslab fixed it upstream).
      assert.ok(tslab.titles.includes("Kernel Idle"), `plain tslab: idle shown mid-run: ${tslab.titles.join(", ")}`);
    } finally {
      const sessions = (await (await fetch(`${server.url}/api/sessions`)).json()) as { id: string }[];
      for (const s of sessions) await fetch(`${server.url}/api/sessions/${s.id}`, { method: "DELETE" });
      await server.close();
    }
  });

  const siteRoots = [
    { label: "project-root", sub: "", urlDir: "notebooks/" },
    { label: "notebooks-dir", sub: "notebooks", urlDir: "" },
  ];
  for (const root of siteRoots) {
    test(`jupyter notebook started in ${root.label}: every diagram loads and the notebook names the cbkit kernel`, async () => {
      const server: Server = await startNotebookServer(notebookPython!, path.join(site, root.sub), env);
      const page = await browser!.newPage({ viewport: { width: 1280, height: 900 } });
      try {
        for (const nb of withDiagrams) {
          const expected = diagramLinks(path.join(notebooksDir, nb));
          const url = `${server.url}/notebooks/${root.urlDir}${nb}`;
          const shotDir = path.join(screenshotDir, "served", `jupyter-${root.label}`);
          const diagrams = await inspect(page, url, expected, shotDir, nb.replace(/\.ipynb$/, ""));
          // The Notebook serves a file beside a notebook at /notebooks/<dir>/images/x.svg (or /files/...).
          assert.deepEqual(diagrams.filter((d) => !d.loaded).map((d) => d.path), [], `${nb}: every diagram loaded (naturalWidth > 0)`);
          assert.deepEqual(diagrams.map((d) => path.posix.basename(d.path)), expected.map((e) => path.posix.basename(e)), `${nb}: every linked diagram shown`);
          const kernelName = await page.textContent(".kernel_indicator_name", { timeout: 30_000 });
          assert.equal(kernelName?.trim(), "TypeScript (cbkit)", `${nb} opens with the cbkit kernel`);
          // Stop this page's kernel before the next page starts one.
          const sessions = (await (await fetch(`${server.url}/api/sessions`)).json()) as { id: string }[];
          for (const s of sessions) await fetch(`${server.url}/api/sessions/${s.id}`, { method: "DELETE" });
        }
      } finally {
        await page.close();
        await server.close();
      }
    });
  }
});
