/**
 * The diagrams live in the top-level images/ folder (SVG, rendered once to PNG) and reach the
 * notebooks as cell attachments made by scripts/notebook-diagrams.js: every attachment must be the
 * very file of images/, every PNG rendered from the current SVG, and no notebook may link a
 * diagram by a path (that would break when Jupyter starts in another folder). Fast: reads files.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { listNotebooks, notebooksDir, projectRoot } from "./harness";

interface Cell {
  cell_type: string;
  source: string | string[];
  attachments?: Record<string, Record<string, string>>;
}
interface DiagramsScript {
  SOURCE_KEY: string;
  imagesDir: string;
  sha256(b: Buffer): string;
  textChunk(png: Buffer, key: string): string | undefined;
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const script = require(path.join(projectRoot, "scripts", "notebook-diagrams.js")) as DiagramsScript;
const imagesDir = path.join(projectRoot, "images");
const text = (c: Cell) => (Array.isArray(c.source) ? c.source.join("") : c.source);
const cellsOf = (nb: string) => (JSON.parse(fs.readFileSync(path.join(notebooksDir, nb), "utf8")) as { cells: Cell[] }).cells;

test("images/ is the top-level diagram folder, and notebooks/ keeps none", () => {
  assert.equal(script.imagesDir, imagesDir);
  assert.ok(!fs.existsSync(path.join(notebooksDir, "images")), "no notebooks/images/ any more");
  const svgs = fs.readdirSync(imagesDir).filter((f) => f.endsWith(".svg"));
  assert.ok(svgs.length >= 9, `diagrams: ${svgs.join(", ")}`);
});

test("every PNG in images/ was rendered from the current SVG beside it", () => {
  for (const svg of fs.readdirSync(imagesDir).filter((f) => f.endsWith(".svg"))) {
    const png = path.join(imagesDir, svg.replace(/\.svg$/, ".png"));
    assert.ok(fs.existsSync(png), `images/${path.basename(png)} exists (npm run diagrams -- --render)`);
    const recorded = script.textChunk(fs.readFileSync(png), script.SOURCE_KEY);
    assert.equal(recorded, script.sha256(fs.readFileSync(path.join(imagesDir, svg))), `images/${path.basename(png)} is out of date with ${svg}: run npm run diagrams -- --render`);
  }
});

test("every diagram a notebook shows is an attachment equal to its file in images/", () => {
  let shown = 0;
  for (const nb of listNotebooks()) {
    cellsOf(nb).forEach((cell, i) => {
      const where = `${nb} cell ${i}`;
      const md = text(cell);
      assert.doesNotMatch(md, /\]\((?!attachment:|https?:|#)[^)]*\.(svg|png)\)/, `${where}: a diagram linked by path (use attachment:, npm run diagrams)`);
      const names = [...md.matchAll(/\]\(attachment:([\w.-]+)\)/g)].map((m) => m[1]);
      assert.deepEqual(Object.keys(cell.attachments ?? {}).sort(), [...new Set(names)].sort(), `${where}: exactly the attachments its markdown names`);
      for (const name of names) {
        const file = path.join(imagesDir, name);
        assert.ok(fs.existsSync(file), `${where}: images/${name} exists`);
        const data = Buffer.from(cell.attachments![name]["image/png"] ?? "", "base64");
        assert.ok(data.equals(fs.readFileSync(file)), `${where}: attachment ${name} is images/${name} byte for byte (npm run diagrams)`);
        shown++;
      }
    });
  }
  assert.ok(shown >= 12, `diagrams shown across the notebooks: ${shown}`);
});

test("npm run diagrams -- --check agrees, and the README links the diagrams from images/", () => {
  const r = spawnSync(process.execPath, [path.join(projectRoot, "scripts", "notebook-diagrams.js"), "--check"], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  const readme = fs.readFileSync(path.join(projectRoot, "README.md"), "utf8");
  const links = [...readme.matchAll(/\]\((images\/[\w.-]+)\)/g)].map((m) => m[1]);
  assert.ok(links.length > 0, "the README shows a diagram");
  for (const l of links) assert.ok(fs.existsSync(path.join(projectRoot, l)), `README links ${l}, which exists`);
});
