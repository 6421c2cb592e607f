#!/usr/bin/env node
/*
 * Your own copies of the workshop notebooks, in my-notebooks/ (git ignores the folder): you run
 * and save those, so your outputs never show in `git status` and never conflict with a `git pull`.
 * notebooks/ keeps the tracked originals. `npm install` makes the copies that are missing and never
 * touches one that exists; `npm run notebooks -- --reset` replaces them with the current originals
 * (after a `git pull` that changed them), keeping each old copy as <name>.ipynb.bak.
 *
 * Usage: node scripts/notebook-copies.js [--reset] [--from DIR] [--to DIR]
 */
"use strict";
const fs = require("node:fs");
const path = require("node:path");
const { parseArgs } = require("node:util");

const projectRoot = path.resolve(__dirname, "..");
const ORIGINALS = path.join(projectRoot, "notebooks");
const COPIES = path.join(projectRoot, "my-notebooks");

/** Copies every *.ipynb of `from` into `to`: the missing ones, or all with `reset`. Returns what it did per file. */
function makeCopies({ from = ORIGINALS, to = COPIES, reset = false } = {}) {
  fs.mkdirSync(to, { recursive: true });
  const done = [];
  for (const name of fs.readdirSync(from).filter((f) => f.endsWith(".ipynb")).sort()) {
    const copy = path.join(to, name);
    const exists = fs.existsSync(copy);
    if (exists && !reset) {
      done.push({ name, action: "kept" });
      continue;
    }
    if (exists) fs.copyFileSync(copy, `${copy}.bak`);
    fs.copyFileSync(path.join(from, name), copy);
    done.push({ name, action: exists ? "replaced" : "created" });
  }
  return done;
}

if (require.main === module) {
  try {
    const { values } = parseArgs({ options: { from: { type: "string" }, to: { type: "string" }, reset: { type: "boolean" } } });
    const to = path.resolve(values.to ?? COPIES);
    const done = makeCopies({ from: path.resolve(values.from ?? ORIGINALS), to, reset: values.reset });
    const count = (a) => done.filter((d) => d.action === a).length;
    console.log(
      `notebooks: your copies are in ${path.relative(process.cwd(), to) || "."}/ ` +
        `(${count("created")} created, ${count("replaced")} replaced with a .bak of the old, ${count("kept")} kept as they are)`,
    );
  } catch (e) {
    console.error(`notebooks: ${e.message}`);
    process.exitCode = 1;
  }
}

module.exports = { ORIGINALS, COPIES, makeCopies };
