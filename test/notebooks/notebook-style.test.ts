/**
 * Cells an attendee can read: in every notebooks/*.ipynb, no line of any cell is longer than 100
 * characters and no code cell has more than 20 lines (longer logic belongs in a helper of
 * common/src/display or sim_app/src/workshop). Fast: reads the files, runs nothing.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { listNotebooks, notebooksDir } from "./harness";

export const MAX_LINE = 100;
export const MAX_CODE_LINES = 20;

interface Cell {
  cell_type: string;
  source: string | string[];
}

/** Every line too long and every code cell too tall in a notebook's JSON, as readable messages. */
export function styleProblems(notebookJson: string, name = "notebook"): string[] {
  const cells = (JSON.parse(notebookJson) as { cells: Cell[] }).cells;
  const problems: string[] = [];
  cells.forEach((cell, i) => {
    const text = Array.isArray(cell.source) ? cell.source.join("") : cell.source;
    const lines = text.replace(/\n$/, "").split("\n");
    lines.forEach((line, j) => {
      if (line.length > MAX_LINE) problems.push(`${name} cell ${i} (${cell.cell_type}) line ${j + 1}: ${line.length} characters > ${MAX_LINE}`);
    });
    if (cell.cell_type === "code" && lines.length > MAX_CODE_LINES) {
      problems.push(`${name} cell ${i}: ${lines.length} code lines > ${MAX_CODE_LINES} (move the logic into a helper)`);
    }
  });
  return problems;
}

test("the checker finds a long line and a tall code cell, and passes a tidy notebook", () => {
  const nb = (cells: Cell[]) => JSON.stringify({ cells });
  assert.deepEqual(styleProblems(nb([{ cell_type: "code", source: ["const a = 1;\n", "a;"] }])), []);
  const long = styleProblems(nb([{ cell_type: "markdown", source: "x".repeat(101) }]), "t");
  assert.deepEqual(long, ["t cell 0 (markdown) line 1: 101 characters > 100"]);
  const tall = styleProblems(nb([{ cell_type: "code", source: Array.from({ length: 21 }, (_, i) => `f(${i});\n`) }]), "t");
  assert.deepEqual(tall, ["t cell 0: 21 code lines > 20 (move the logic into a helper)"]);
  const tallMarkdown = styleProblems(nb([{ cell_type: "markdown", source: "a\n".repeat(40) }]));
  assert.deepEqual(tallMarkdown, [], "markdown may be long, only its lines are limited");
});

test("every workshop notebook: lines <= 100 characters, code cells <= 20 lines", () => {
  const names = listNotebooks();
  assert.ok(names.length >= 5, `notebooks found: ${names.join(", ")}`);
  const problems = names.flatMap((n) => styleProblems(fs.readFileSync(path.join(notebooksDir, n), "utf8"), n));
  assert.deepEqual(problems, [], problems.join("\n"));
});
