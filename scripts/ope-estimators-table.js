#!/usr/bin/env node
/*
 * Rewrites the estimators table in docs/ope.md (between the estimators markers) from the registry
 * in common/src/ope/estimators.ts. Run after adding or changing an estimator (needs a build):
 *   npm run build && node scripts/ope-estimators-table.js
 * With --check it only reports whether docs/ope.md is up to date (exit 1 when not); test/ope's
 * registry test fails on a stale table too.
 */
"use strict";
const fs = require("node:fs");
const path = require("node:path");
const { estimatorsMarkdownTable, withEstimatorsTable } = require("@cbkit/common/ope");

const doc = path.join(__dirname, "..", "docs", "ope.md");
const text = fs.readFileSync(doc, "utf8");
let updated;
try {
  updated = withEstimatorsTable(text);
} catch (error) {
  console.error(`docs/ope.md: ${error.message}`);
  process.exit(1);
}
if (process.argv.includes("--check")) {
  if (updated !== text) {
    console.error("docs/ope.md estimators table is out of date: run `npm run build && node scripts/ope-estimators-table.js`");
    process.exit(1);
  }
  console.log("docs/ope.md estimators table is up to date");
} else {
  fs.writeFileSync(doc, updated);
  console.log(`docs/ope.md estimators table: ${estimatorsMarkdownTable().split("\n").length - 2} estimators`);
}
