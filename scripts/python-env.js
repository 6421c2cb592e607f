#!/usr/bin/env node
/*
 * Creates the project's one Python virtual environment, `<project root>/.venv`, and installs
 * requirements-dev.txt into it (`npm run python-env`; .ci/run calls it). requirements.txt alone is
 * what a workshop attendee needs (JupyterLab and Notebook 7); the dev file adds what the tests and
 * benches use. Safe to repeat: an existing .venv is reused and pip only adds what is missing.
 *
 * Tests find the tools through venvPython() / venvBin() (exported below) and skip with a message
 * naming this command when they are missing (under CI=true they fail instead).
 *
 * Usage: node scripts/python-env.js [--python PYTHON] [--requirements FILE]
 */
"use strict";
const fs = require("node:fs");
const path = require("node:path");
const { spawnSync } = require("node:child_process");
const { parseArgs } = require("node:util");

const projectRoot = path.resolve(__dirname, "..");
const VENV = path.join(projectRoot, ".venv");
const WINDOWS = process.platform === "win32";

/** A program of the venv (`python`, `jupyter`, `pip`, ...): .venv/bin/NAME, or .venv\Scripts\NAME.exe on Windows. */
function venvBin(name, venv = VENV) {
  return WINDOWS ? path.join(venv, "Scripts", `${name}.exe`) : path.join(venv, "bin", name);
}

/** The venv's Python when the venv exists, else undefined. */
function venvPython(venv = VENV) {
  const py = venvBin("python", venv);
  return fs.existsSync(py) ? py : undefined;
}

/** The command that sets the environment up, for messages. */
const SETUP_COMMAND = "npm run python-env";

function run(cmd, args) {
  console.log(`python-env: ${[cmd, ...args].join(" ")}`);
  const r = spawnSync(cmd, args, { stdio: "inherit", cwd: projectRoot });
  if (r.error) throw new Error(`${cmd} could not start: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} exited with ${r.status}`);
}

/** The first Python 3.9+ that can create a venv: --python, $PYTHON, python3, python. */
function findBasePython(requested) {
  const candidates = [requested, process.env.PYTHON, "python3", "python", WINDOWS ? "py" : undefined].filter(Boolean);
  const tried = [];
  for (const py of candidates) {
    const r = spawnSync(py, ["-c", "import sys, venv, ensurepip; print('%d.%d' % sys.version_info[:2])"], { encoding: "utf8" });
    const version = r.status === 0 ? r.stdout.trim() : null;
    if (version && Number(version.split(".")[1]) >= 9 && version.startsWith("3.")) return py;
    tried.push(`${py}: ${r.error ? "not found" : version ? `Python ${version} (too old)` : (r.stderr || "").trim().split("\n").pop() || "no venv/ensurepip module"}`);
  }
  throw new Error(
    `no Python 3.9+ with the venv module found (${tried.join("; ")}). Install Python 3 ` +
      "(Debian/Ubuntu: sudo apt-get install python3-venv; macOS: brew install python; Windows: " +
      "python.org's installer), or pass --python /path/to/python3.",
  );
}

function main(argv) {
  const { values } = parseArgs({ args: argv, options: { python: { type: "string" }, requirements: { type: "string" } } });
  const requirements = path.resolve(projectRoot, values.requirements ?? "requirements-dev.txt");
  if (!venvPython() && fs.existsSync(VENV)) {
    throw new Error(`${VENV} exists but holds no ${path.relative(VENV, venvBin("python"))} (a broken or foreign environment): delete it and run ${SETUP_COMMAND} again`);
  }
  if (!venvPython()) run(findBasePython(values.python), ["-m", "venv", VENV]);
  const py = venvPython();
  if (!py) throw new Error(`the venv at ${VENV} has no ${venvBin("python")}; delete ${VENV} and run ${SETUP_COMMAND} again`);
  try {
    run(py, ["-m", "pip", "install", "--disable-pip-version-check", "--quiet", "-r", requirements]);
  } catch (e) {
    throw new Error(
      `${e.message}: pip could not install ${path.relative(projectRoot, requirements)} into ${VENV}. Is the Python ` +
        "package index reachable (behind a proxy: set HTTPS_PROXY, or PIP_INDEX_URL for a mirror)? " +
        `Fix that and run ${SETUP_COMMAND} again; until then the tests that need these tools are skipped.`,
    );
  }
  console.log(`python-env: ready: ${py} with ${path.relative(projectRoot, requirements)}`);
  console.log(`python-env: register the kernel with this Jupyter: npm run install-kernel (uses ${venvBin("jupyter")})`);
}

if (require.main === module) {
  try {
    main(process.argv.slice(2));
  } catch (e) {
    console.error(`python-env: ${e.message}`);
    process.exit(1);
  }
}

module.exports = { VENV, SETUP_COMMAND, venvBin, venvPython };
