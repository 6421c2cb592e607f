#!/usr/bin/env node
/*
 * Git's clean filter for the tracked notebooks (.gitattributes: notebooks/*.ipynb
 * filter=notebook-clean; `npm install` registers it, scripts/install-git-filter.js). Reads a
 * notebook on stdin and writes it to stdout without what running it adds: outputs, execution
 * counts and per-cell run state (timings, collapsed/scrolled output views). Sources, cell ids,
 * tags, attachments (the diagrams) and notebook metadata stay. Git stores and compares the
 * cleaned text, so a notebook you ran still shows as unchanged, and your outputs stay in your file.
 *
 * The result is always written as Jupyter (nbformat) writes a notebook — keys sorted, one-space
 * indent, a final newline — so a notebook Jupyter saved and one a script wrote compare equal; the
 * tracked notebooks are stored in that form, and the filter gives them back byte for byte. Input
 * that is not a notebook (a merge conflict, say) passes through untouched, so git never loses it.
 *
 * Usage: node scripts/notebook-clean.js < notebook.ipynb > clean.ipynb
 */
"use strict";

/** Cell metadata keys that record a run or a view of the outputs, not the notebook's content. */
const RUN_STATE_KEYS = ["execution", "collapsed", "scrolled", "ExecuteTime"];

/** The notebook text without outputs and run state, in Jupyter's layout. */
function cleanNotebook(text) {
  let nb;
  try {
    nb = JSON.parse(text);
  } catch {
    return text;
  }
  if (!nb || !Array.isArray(nb.cells)) return text;
  for (const cell of nb.cells) {
    if (cell.cell_type === "code") {
      cell.outputs = [];
      cell.execution_count = null;
    }
    for (const key of RUN_STATE_KEYS) if (cell.metadata) delete cell.metadata[key];
  }
  return JSON.stringify(sortKeys(nb), null, 1) + "\n";
}

/** A copy with every object's keys in sorted order, as Jupyter (nbformat) writes them. */
function sortKeys(value) {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(
    Object.keys(value)
      .sort()
      .map((k) => [k, sortKeys(value[k])]),
  );
}

if (require.main === module) {
  const chunks = [];
  process.stdin.on("data", (c) => chunks.push(c));
  process.stdin.on("end", () => process.stdout.write(cleanNotebook(Buffer.concat(chunks).toString("utf8"))));
}

module.exports = { cleanNotebook };
