#!/usr/bin/env node
/**
 * Creates the project's Python environment, <project root>/.venv, and installs
 * requirements-dev.txt into it (Vowpal Wabbit, sqlglot, moto for the tests and benches).
 * Tests find the tools through .venv/bin/python.
 */
const { spawnSync } = require("node:child_process");
const fs = require("node:fs");
const path = require("node:path");

const root = path.resolve(__dirname, "..");
const venv = path.join(root, ".venv");
const run = (cmd, args) => {
  console.log(`$ ${cmd} ${args.join(" ")}`);
  const r = spawnSync(cmd, args, { cwd: root, stdio: "inherit" });
  if (r.status !== 0) {
    console.error(`${cmd} failed (exit ${r.status ?? r.signal}); the tests that need Python tools will say which and skip`);
    process.exit(1);
  }
};
if (!fs.existsSync(path.join(venv, "bin", "python"))) run("python3", ["-m", "venv", venv]);
run(path.join(venv, "bin", "pip"), ["install", "--disable-pip-version-check", "-q", "-r", path.join(root, "requirements-dev.txt")]);
