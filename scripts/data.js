#!/usr/bin/env node
/*
 * Gets the Statlog (Shuttle) training file the kit needs (`npm run data`), on any platform.
 *
 * Where: the file the kit reads — `data_file` in config.yaml when set, else
 * ../shared/data/shuttle.trn beside the project root (resolveShuttleDataFile, the kit's own rule).
 * When the file is there, its SHA-256 is checked and nothing is downloaded. When it is missing, it
 * is downloaded from the UCI Machine Learning Repository over HTTPS, decompressed (UCI ships it
 * compressed with Unix `compress`; gzip is read too), checked, and only then written.
 *
 * Usage: node scripts/data.js [--file PATH] [--url URL]
 */
"use strict";
const crypto = require("node:crypto");
const fs = require("node:fs");
const http = require("node:http");
const https = require("node:https");
const path = require("node:path");
const { parseArgs } = require("node:util");
const zlib = require("node:zlib");

const projectRoot = path.resolve(__dirname, "..");
const SHUTTLE_URL = "https://archive.ics.uci.edu/ml/machine-learning-databases/statlog/shuttle/shuttle.trn.Z";
/** SHA-256 of the decompressed shuttle.trn (43,500 rows). */
const SHUTTLE_SHA256 = "87b24ee9fb5137e1d417659cf905d84d0e15342bbaa60770f1ae83da1a38200a";
const MAX_REDIRECTS = 5;
const TIMEOUT_MS = 60_000;

function sha256(buffer) {
  return crypto.createHash("sha256").update(buffer).digest("hex");
}

/**
 * Decodes Unix `compress` output (.Z: LZW with 9 to 16-bit codes, written least significant bit
 * first). Quirk of the format: when the code width grows or the table is cleared, the writer skips
 * to the end of the current group of eight codes (counted from where that width began), so the
 * reader does too.
 */
function uncompressZ(input) {
  if (input.length < 3 || input[0] !== 0x1f || input[1] !== 0x9d) throw new Error("not a .Z file (no 1f 9d header)");
  const maxBits = input[2] & 0x1f;
  const blockMode = (input[2] & 0x80) !== 0;
  if (maxBits < 9 || maxBits > 16) throw new Error(`.Z file uses ${maxBits}-bit codes; only 9 to 16 are defined`);
  const CLEAR = 256;
  const firstFree = blockMode ? 257 : 256;
  const prefix = new Uint16Array(1 << maxBits);
  const suffix = new Uint8Array(1 << maxBits);
  const stack = new Uint8Array(1 << maxBits);
  const out = [];
  let chunk = Buffer.alloc(1 << 16);
  let used = 0;
  const emit = (byte) => {
    if (used === chunk.length) {
      out.push(chunk);
      chunk = Buffer.alloc(chunk.length);
      used = 0;
    }
    chunk[used++] = byte;
  };

  const data = input.subarray(3);
  const totalBits = data.length * 8;
  let bitPos = 0;
  let groupStart = 0;
  let width = 9;
  let maxCode = (1 << width) - 1;
  let free = firstFree;
  let oldCode = -1;
  let firstByte = 0;
  const alignToGroup = () => {
    const group = width * 8;
    bitPos = groupStart + Math.ceil((bitPos - groupStart) / group) * group;
    groupStart = bitPos;
  };

  for (;;) {
    if (free > maxCode && width < maxBits) {
      alignToGroup();
      width++;
      maxCode = (1 << width) - 1;
    }
    if (bitPos + width > totalBits) break;
    let code = 0;
    for (let i = 0; i < width; i++, bitPos++) code |= ((data[bitPos >> 3] >> (bitPos & 7)) & 1) << i;

    if (oldCode === -1) {
      if (code > 255) throw new Error(`corrupt .Z data: first code ${code} is not a byte`);
      firstByte = oldCode = code;
      emit(code);
      continue;
    }
    if (code === CLEAR && blockMode) {
      alignToGroup();
      free = firstFree - 1;
      width = 9;
      maxCode = (1 << width) - 1;
      continue;
    }
    const incoming = code;
    let depth = 0;
    if (code >= free) {
      if (code > free) throw new Error(`corrupt .Z data: code ${code} is beyond the table (${free} entries)`);
      stack[depth++] = firstByte; // the "KwKwK" case: the code being defined right now
      code = oldCode;
    }
    while (code >= 256) {
      stack[depth++] = suffix[code];
      code = prefix[code];
    }
    firstByte = code;
    emit(code);
    while (depth > 0) emit(stack[--depth]);
    if (free < 1 << maxBits) {
      prefix[free] = oldCode;
      suffix[free] = firstByte;
      free++;
    }
    oldCode = incoming;
  }
  out.push(chunk.subarray(0, used));
  return Buffer.concat(out);
}

/** The file's content: .Z and gzip are decompressed (told apart by their first bytes), anything else is kept as is. */
function decompress(body) {
  if (body[0] === 0x1f && body[1] === 0x9d) return uncompressZ(body);
  if (body[0] === 0x1f && body[1] === 0x8b) return zlib.gunzipSync(body);
  return body;
}

/** GETs `url` (https, or http for a local mirror), following redirects; resolves with the body. */
function download(url, redirects = MAX_REDIRECTS) {
  return new Promise((resolve, reject) => {
    const client = url.startsWith("https:") ? https : http;
    const req = client.get(url, { timeout: TIMEOUT_MS }, (res) => {
      if (res.statusCode >= 300 && res.statusCode < 400 && res.headers.location) {
        res.resume();
        if (redirects === 0) return reject(new Error(`too many redirects from ${url}`));
        return resolve(download(new URL(res.headers.location, url).href, redirects - 1));
      }
      if (res.statusCode !== 200) {
        res.resume();
        return reject(new Error(`${url} answered HTTP ${res.statusCode}`));
      }
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => resolve(Buffer.concat(chunks)));
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error(`no answer from ${url} within ${TIMEOUT_MS / 1000} s`)));
    req.on("error", reject);
  });
}

/**
 * Makes sure `file` holds the shuttle data: checks a present file, else downloads, checks and
 * writes it. Resolves with "present" or "downloaded"; rejects with an error naming the file and the fix.
 */
async function ensureShuttleData({ file, url = SHUTTLE_URL, expectedSha256 = SHUTTLE_SHA256, log = console.log }) {
  if (fs.existsSync(file)) {
    const actual = sha256(fs.readFileSync(file));
    if (actual !== expectedSha256) {
      throw new Error(
        `${file} is not the Statlog (Shuttle) training file: its SHA-256 is ${actual}, expected ${expectedSha256}. ` +
          "It may be truncated or another version. Delete it and run `npm run data` again to download a fresh copy.",
      );
    }
    log(`data: ${file} is present and its SHA-256 matches`);
    return "present";
  }
  log(`data: ${file} is missing; downloading ${url}`);
  let body;
  try {
    body = await download(url);
  } catch (e) {
    throw new Error(
      `could not download ${url} (${e.message}). Check the connection (behind a proxy, download the file with your browser), ` +
        `decompress it and save it as ${file}, then run \`npm run data\` again to check it.`,
    );
  }
  const content = decompress(body);
  const actual = sha256(content);
  if (actual !== expectedSha256) {
    throw new Error(
      `the file downloaded from ${url} is not the expected shuttle.trn (SHA-256 ${actual}, expected ${expectedSha256}); nothing was written to ${file}. ` +
        "Try again later, or get shuttle.trn from https://archive.ics.uci.edu/dataset/148/statlog+shuttle and save it there.",
    );
  }
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const partial = `${file}.download`;
  fs.writeFileSync(partial, content);
  fs.renameSync(partial, file);
  log(`data: wrote ${file} (${content.length} bytes, SHA-256 checked)`);
  return "downloaded";
}

/** Where the kit reads the data: data_file of config.yaml, else ../shared/data/shuttle.trn. */
function kitDataFile() {
  let kit, common;
  try {
    kit = require(path.join(projectRoot, "sim_app"));
    common = require(path.join(projectRoot, "common"));
  } catch (e) {
    throw new Error(`the kit is not built (${e.message.split("\n")[0]}); run \`npm install\` first, then \`npm run data\``);
  }
  return kit.resolveShuttleDataFile(common.loadConfig());
}

async function main(argv) {
  const { values } = parseArgs({ args: argv, options: { file: { type: "string" }, url: { type: "string" } } });
  const file = path.resolve(values.file ?? kitDataFile());
  await ensureShuttleData({ file, url: values.url ?? SHUTTLE_URL });
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((e) => {
    console.error(`data: ${e.message}`);
    process.exitCode = 1;
  });
}

module.exports = { SHUTTLE_URL, SHUTTLE_SHA256, sha256, uncompressZ, decompress, ensureShuttleData };
