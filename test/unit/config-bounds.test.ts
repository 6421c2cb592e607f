/**
 * Config values that loaded and then failed much later, or were unbounded (issue 16.10), and raw
 * errors where a named one belongs (16.11): loadConfig refuses each, naming the key (or the file)
 * and what is allowed.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ConfigError, learnerOptionsFromParameters, loadConfig } from "@cbkit/common";
import { findProjectRoot, parseConfig } from "@cbkit/common/config";
import { showValue } from "@cbkit/common/util";

const shipped = fs.readFileSync(path.join(findProjectRoot(), "config.yaml"), "utf8");
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "cbkit-config-bounds-"));
process.on("exit", () => fs.rmSync(tmp, { recursive: true, force: true }));

/** The shipped config with the line of `key` replaced (indentation kept). */
function edit(key: string, line: string): string {
  const re = new RegExp(`^(\\s*)${key}:.*$`, "m");
  assert.match(shipped, re);
  return shipped.replace(re, (_m, indent: string) => indent + line);
}

/** The one issue of a config text that must fail, as "path: found ...; expected ...". */
function refusal(text: string): string {
  try {
    parseConfig(text, "bounds.yaml");
  } catch (e) {
    assert.ok(e instanceof ConfigError, String(e));
    return e.issues.map((i) => `${i.path}: found ${i.found}; expected ${i.expected}`).join("\n");
  }
  assert.fail("accepted");
}

test("values that used to fail much later are refused, naming the key and the allowed range", () => {
  const cases: [string, string, RegExp][] = [
    ["num_arms", "num_arms: 1000", /algor\.algorithms_parameters\.(bits|min_probability): .*num_arms 1000/],
    ["num_bins", "num_bins: 5000", /algor\.algorithms_parameters\.num_bins: found 5000 .*expected an integer in \[2, 1024\]/],
    ["num_bins", "num_bins: 16\n    power_t: 5", /algor\.algorithms_parameters\.power_t: found 5 .*expected a number in \[0, 1\]/],
    ["min_probability", "min_probability: 0.3", /algor\.algorithms_parameters\.min_probability: found 0\.3 .*below 1\/num_arms/],
    ["join_ratio", "join_ratio: 0", /workflow\.join_ratio: found 0 .*in \(0, 1\)/],
    ["join_ratio", "join_ratio: 1", /workflow\.join_ratio: found 1 .*in \(0, 1\)/],
    ["data_file", `data_file: ${path.join(tmp, "missing.trn")}`, /data_file: found ".*missing\.trn", which does not exist .*expected the shuttle\.trn file/],
    ["data_file", `data_file: ${tmp}`, /data_file: found ".*", which is a folder/],
  ];
  for (const [key, line, expected] of cases) assert.match(refusal(edit(key, line)), expected, line);
});

test("unbounded values are bounded: max_decisions_per_request, request_timeout_seconds, seed", () => {
  assert.match(refusal(edit("max_decisions_per_request", "max_decisions_per_request: 1000000000000")), /endpoint\.max_decisions_per_request: found 1000000000000 .*expected an integer in \[1, 50000\] \(a 6 MB request holds about 50000 decisions/);
  assert.match(refusal(edit("max_decisions_per_request", "max_decisions_per_request: 50001")), /\[1, 50000\]/);
  assert.equal(parseConfig(edit("max_decisions_per_request", "max_decisions_per_request: 50000")).endpoint.max_decisions_per_request, 50000);
  assert.match(refusal(edit("request_timeout_seconds", "request_timeout_seconds: 1.0e-9")), /endpoint\.request_timeout_seconds: found 1e-9 .*expected a number in \[0\.01, 3600\]/);
  assert.match(refusal(edit("request_timeout_seconds", "request_timeout_seconds: 86400")), /\[0\.01, 3600\]/);
  assert.equal(parseConfig(edit("request_timeout_seconds", "request_timeout_seconds: 0.01")).endpoint.request_timeout_seconds, 0.01);
  assert.match(refusal(edit("seed", "seed: 12345678901234567890")), /^seed: found 12345678901234567000 .*an exact integer \(at most 9007199254740991/);
  assert.equal(parseConfig(edit("seed", "seed: 1712345678")).seed, 1712345678);
});

test("workspace and data_file must be usable paths: not empty, no NUL or control character, no broken Unicode", () => {
  assert.match(refusal(edit("workspace", 'workspace: ""')), /^workspace: found "": an empty path \(it would be the config file's own folder\)/);
  assert.match(refusal(edit("workspace", 'workspace: "  "')), /an empty path/);
  assert.match(refusal(edit("workspace", 'workspace: "ws\\0x"')), /^workspace: found "ws\\u0000x": a NUL character/);
  assert.match(refusal(edit("workspace", 'workspace: "ws\\tx"')), /a control character/);
  assert.match(refusal(edit("workspace", 'workspace: "ws\\udc80"')), /a broken Unicode escape/);
  assert.match(refusal(edit("data_file", 'data_file: "a\\0b.trn"')), /^data_file: found "a\\u0000b\.trn": a NUL character/);
});

test("a file that is not UTF-8 is refused saying it must be UTF-8: UTF-16 with or without its mark, stray bytes with their line", () => {
  const file = path.join(tmp, "config.yaml");
  const mustBeUtf8 = (bytes: Buffer, found: RegExp) => {
    fs.writeFileSync(file, bytes);
    assert.throws(() => loadConfig(file), (e: Error) => {
      assert.ok(e instanceof ConfigError);
      assert.match(e.message, new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: 1 problem`));
      assert.match(e.message, found);
      assert.match(e.message, /expected UTF-8 text: save the file as UTF-8/);
      assert.ok(!e.message.includes("\\u0000"), "no dump of the decoded bytes");
      return true;
    });
  };
  mustBeUtf8(Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(shipped, "utf16le")]), /found UTF-16 \(it starts with a UTF-16 byte-order mark\)/);
  mustBeUtf8(Buffer.from(shipped, "utf16le"), /found a NUL byte at offset 1/);
  const latin1 = Buffer.from(edit("workspace", "workspace: caf\u00e9"), "latin1");
  const line = shipped.split("\n").findIndex((l) => l.startsWith("workspace:")) + 1;
  mustBeUtf8(latin1, new RegExp(`\\(line ${line}\\): found bytes that are not valid UTF-8`));
  // UTF-8 with a byte-order mark is UTF-8.
  fs.writeFileSync(file, "\ufeff" + shipped);
  assert.equal(loadConfig(file).seed, 1);
});

test("a config path that is a folder, and a YAML alias bomb, are named errors", () => {
  assert.throws(() => loadConfig(tmp), (e: Error) => e instanceof ConfigError && /found a folder; expected a config file, not a folder \(did you mean .*config\.yaml\?\)/.test(e.message));
  const bomb = ["a: &a [x, x, x, x, x, x, x, x, x]", ..."bcdefgh".split("").map((k, i) => `${k}: &${k} [${Array(9).fill(`*${"abcdefgh"[i]}`).join(", ")}]`)].join("\n");
  assert.throws(() => parseConfig(bomb, "bomb.yaml"), (e: Error) => {
    assert.ok(e instanceof ConfigError, `${e.name}: ${e.message}`);
    assert.match(e.message, /^bomb\.yaml: 1 problem/);
    assert.match(e.message, /YAML aliases that expand too far/);
    return true;
  });
});

test("NaN and Infinity are shown as NaN and Infinity in messages, never as null", () => {
  assert.equal(showValue(NaN), "NaN");
  assert.equal(showValue(-Infinity), "-Infinity");
  assert.equal(showValue({ x: Infinity }), '{"x":"Infinity"}');
  assert.equal(showValue("a"), '"a"');
  assert.throws(() => learnerOptionsFromParameters({ num_arms: 7, epsilon: NaN }, 1), /epsilon.*must be a number, got NaN/);
  assert.throws(() => learnerOptionsFromParameters({ num_arms: 7, power_t: Infinity }, 1), /power_t.*got Infinity/);
  const nested: unknown[] = [];
  let cur = nested;
  for (let i = 0; i < 100_000; i++) cur.push((cur = []));
  assert.equal(showValue(nested), "an array that cannot be shown");
});
