#!/usr/bin/env node
/*
 * Puts the diagrams of the top-level images/ folder into the notebooks as cell attachments, so they
 * show in every Jupyter front end whichever folder Jupyter was started in, before any cell runs,
 * in a notebook Jupyter does not trust, and in exports; images/ stays the one place they are kept.
 *
 * Each diagram is drawn as images/NAME.svg (the source, which the README and docs link) and
 * rendered once to images/NAME.png, because JupyterLab and Notebook 7 show only bitmap attachments
 * (PNG, JPEG, GIF, WebP, BMP), not SVG. The PNG records the SHA-256 of the SVG it was rendered from
 * (a tEXt chunk), so a PNG left behind after an SVG edit is found without rendering anything.
 *
 * A markdown cell shows a diagram with `![alt](attachment:NAME.png)`; this script gives each such
 * cell exactly the attachments it names, read from images/. A link still written as
 * `](images/NAME.svg)` or `](images/NAME.png)` is rewritten to the attachment form.
 *
 * Usage: node scripts/notebook-diagrams.js           attach images/*.png to notebooks/*.ipynb
 *        node scripts/notebook-diagrams.js --render  first render every images/*.svg to PNG (Chromium)
 *        node scripts/notebook-diagrams.js --check   only report what is out of date (exit 1)
 */
"use strict";
const fs = require("node:fs");
const path = require("node:path");
const zlib = require("node:zlib");
const { sha256 } = require("./data");

const projectRoot = path.resolve(__dirname, "..");
const imagesDir = path.join(projectRoot, "images");
const notebooksDir = path.join(projectRoot, "notebooks");
const LINK = /\]\((?:attachment:|images\/)([\w.-]+)\.(?:svg|png)\)/g;
const SOURCE_KEY = "cbkit-source-sha256";

const sourceText = (cell) => (Array.isArray(cell.source) ? cell.source.join("") : cell.source);
/** Jupyter's way of storing text: lines, each keeping its newline. */
const sourceLines = (text) => text.split(/(?<=\n)/);

/** The PNG with a tEXt chunk `key`=`value` right after its header chunk (IHDR). */
function withTextChunk(png, key, value) {
  const data = Buffer.from(`${key}\0${value}`, "latin1");
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write("tEXt", 4, "latin1");
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(zlib.crc32(Buffer.concat([head.subarray(4), data])), 0);
  const ihdrEnd = 8 + 12 + png.readUInt32BE(8);
  return Buffer.concat([png.subarray(0, ihdrEnd), head, data, crc, png.subarray(ihdrEnd)]);
}

/** The value of a PNG's tEXt chunk `key`, or undefined. */
function textChunk(png, key) {
  for (let at = 8; at + 8 <= png.length; ) {
    const length = png.readUInt32BE(at);
    const type = png.toString("latin1", at + 4, at + 8);
    if (type === "tEXt") {
      const text = png.toString("latin1", at + 8, at + 8 + length);
      if (text.startsWith(`${key}\0`)) return text.slice(key.length + 1);
    }
    if (type === "IEND") break;
    at += 12 + length;
  }
  return undefined;
}

/** Diagrams whose PNG is missing or was rendered from another version of the SVG. */
function stalePngs() {
  return fs
    .readdirSync(imagesDir)
    .filter((f) => f.endsWith(".svg"))
    .filter((svg) => {
      const png = path.join(imagesDir, svg.replace(/\.svg$/, ".png"));
      return !fs.existsSync(png) || textChunk(fs.readFileSync(png), SOURCE_KEY) !== sha256(fs.readFileSync(path.join(imagesDir, svg)));
    });
}

/** Renders every images/*.svg to images/*.png at its own size in headless Chromium. */
async function renderPngs() {
  const { chromium } = require("playwright-core");
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium", args: ["--no-sandbox", "--disable-gpu"] });
  try {
    const page = await browser.newPage();
    for (const svg of fs.readdirSync(imagesDir).filter((f) => f.endsWith(".svg")).sort()) {
      const source = fs.readFileSync(path.join(imagesDir, svg));
      await page.setContent(`<body style="margin:0;background:#fff"><img src="data:image/svg+xml;base64,${source.toString("base64")}"></body>`);
      await page.waitForFunction(`document.images[0].complete && document.images[0].naturalWidth > 0`);
      const png = await (await page.$("img")).screenshot({ type: "png" });
      fs.writeFileSync(path.join(imagesDir, svg.replace(/\.svg$/, ".png")), withTextChunk(png, SOURCE_KEY, sha256(source)));
      console.log(`notebook-diagrams: rendered images/${svg.replace(/\.svg$/, ".png")}`);
    }
  } finally {
    await browser.close();
  }
}

/** The attachments a cell's markdown names, read from images/ (base64, as nbformat stores them). */
function attachmentsFor(names, where) {
  const out = {};
  for (const name of [...names].sort()) {
    const file = path.join(imagesDir, name);
    if (!fs.existsSync(file)) throw new Error(`${where} shows ${name}, but images/${name} does not exist (run with --render?)`);
    out[name] = { "image/png": fs.readFileSync(file).toString("base64") };
  }
  return out;
}

/** The notebook's JSON with its diagram links and attachments brought up to date, as Jupyter writes it. */
function updatedNotebook(file) {
  const nb = JSON.parse(fs.readFileSync(file, "utf8"));
  nb.cells = nb.cells.map((cell, i) => {
    if (cell.cell_type !== "markdown") return cell;
    const text = sourceText(cell);
    const names = [...new Set([...text.matchAll(LINK)].map((m) => `${m[1]}.png`))];
    const { attachments: _old, ...rest } = cell;
    if (names.length === 0) return rest;
    const source = sourceLines(text.replace(LINK, (_m, name) => `](attachment:${name}.png)`));
    // Keys in the order Jupyter saves them (sorted), so saving in Jupyter changes nothing.
    return { attachments: attachmentsFor(names, `${path.basename(file)} cell ${i}`), ...rest, source };
  });
  return JSON.stringify(nb, null, 1) + "\n";
}

async function main(argv) {
  const check = argv.includes("--check");
  if (argv.includes("--render")) await renderPngs();
  const stale = stalePngs();
  if (stale.length) throw new Error(`images/: no PNG rendered from the current ${stale.join(", ")}: run \`npm run diagrams -- --render\``);
  const changed = [];
  for (const name of fs.readdirSync(notebooksDir).filter((f) => f.endsWith(".ipynb")).sort()) {
    const file = path.join(notebooksDir, name);
    const next = updatedNotebook(file);
    if (next === fs.readFileSync(file, "utf8")) continue;
    changed.push(name);
    if (!check) fs.writeFileSync(file, next);
  }
  if (check && changed.length) throw new Error(`out of date with images/: ${changed.join(", ")}; run \`npm run diagrams\``);
  console.log(`notebook-diagrams: ${check ? "up to date" : `updated ${changed.length ? changed.join(", ") : "nothing (all up to date)"}`}`);
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((e) => {
    console.error(`notebook-diagrams: ${e.message}`);
    process.exit(1);
  });
}

module.exports = { SOURCE_KEY, imagesDir, sha256, textChunk };
