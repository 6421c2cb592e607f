/**
 * scripts/image-build-push.sh without a Docker engine or an AWS account: `docker`, `aws` and `npx`
 * are small shell scripts first on PATH that record their arguments and answer as the real tools
 * do for the calls the script makes. The script itself is the real one, run by bash.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { spawnSync } from "node:child_process";

const ROOT = path.resolve(__dirname, "..", "..", "..");
const SCRIPT = path.join(ROOT, "scripts", "image-build-push.sh");
const DOCKER_V2 = "application/vnd.docker.distribution.manifest.v2+json";
const OCI_INDEX = "application/vnd.oci.image.index.v1+json";

/** A fake tool: logs `name arg1 arg2 ...` (one call per line) and answers per its first arguments. */
function fakeTool(dir: string, name: string, answers: string): void {
  fs.writeFileSync(
    path.join(dir, name),
    `#!/usr/bin/env bash\nprintf '%s' "${name}" >> "$FAKE_LOG"; printf ' %s' "$@" >> "$FAKE_LOG"; printf '\\n' >> "$FAKE_LOG"\n${answers}\n`,
    { mode: 0o755 },
  );
}

describe("scripts/image-build-push.sh (fake docker and aws on PATH)", () => {
  let bin: string;

  before(() => {
    bin = fs.mkdtempSync(path.join(os.tmpdir(), "cbkit-fake-tools-"));
    fakeTool(
      bin,
      "docker",
      `case "$1 $2" in
  "buildx version") if [ -n "$FAKE_NO_BUILDX" ]; then echo "docker: unknown command: docker buildx" >&2; exit 1; fi; echo "github.com/docker/buildx v0.19.3" ;;
  "buildx build") echo "#1 exporting to image" ;;
  "login --username") cat > /dev/null; echo "Login Succeeded" ;;
  *) echo "fake docker: unexpected call: $*" >&2; exit 99 ;;
esac`,
    );
    fakeTool(
      bin,
      "aws",
      `case "$1 $2" in
  "sts get-caller-identity") echo "123456789012" ;;
  "ecr describe-repositories") echo '{"repositories": []}' ;;
  "ecr get-login-password") echo "token" ;;
  "ecr describe-images") echo "$FAKE_MEDIA_TYPE" ;;
  *) echo "fake aws: unexpected call: $*" >&2; exit 99 ;;
esac`,
    );
    // The script compiles common/ with npx; the test build has done that already.
    fakeTool(bin, "npx", "exit 0");
  });
  after(() => fs.rmSync(bin, { recursive: true, force: true }));

  /** Runs the script with the fakes first on PATH; returns its output and the recorded calls. */
  function run(args: string[], env: Record<string, string> = {}) {
    const log = path.join(bin, `calls-${Math.random().toString(36).slice(2)}.log`);
    fs.writeFileSync(log, "");
    const r = spawnSync("bash", [SCRIPT, ...args], {
      encoding: "utf8",
      env: { ...process.env, PATH: `${bin}${path.delimiter}${process.env.PATH}`, FAKE_LOG: log, AWS_REGION: "", AWS_DEFAULT_REGION: "", ...env },
    });
    const calls = fs.readFileSync(log, "utf8").split("\n").filter((l) => l.trim() !== "");
    return { status: r.status, stdout: r.stdout, stderr: r.stderr, calls };
  }
  const builds = (calls: string[]) => calls.filter((c) => c.startsWith("docker buildx build"));

  it("builds with buildx, no provenance or SBOM, one platform and Docker media types, pushes, checks the stored type, then prints the image line", () => {
    const r = run(["--region", "eu-west-1", "--tag", "v1"], { FAKE_MEDIA_TYPE: DOCKER_V2 });
    assert.equal(r.status, 0, r.stderr);
    const [build] = builds(r.calls);
    assert.ok(build, `a buildx build, calls: ${r.calls.join(" | ")}`);
    const flags = build.split(" ");
    for (const flag of ["--provenance=false", "--sbom=false"]) assert.ok(flags.includes(flag), `${flag} in ${build}`);
    assert.equal(flags[flags.indexOf("--platform") + 1], "linux/amd64");
    assert.equal(flags[flags.indexOf("-f") + 1], path.join(ROOT, "docker", "Dockerfile"));
    assert.equal(flags[flags.indexOf("--output") + 1], "type=image,name=123456789012.dkr.ecr.eu-west-1.amazonaws.com/cbkit:v1,push=true,oci-mediatypes=false");
    // Never the plain docker build / push, which push what the (containerd) image store holds.
    assert.deepEqual(r.calls.filter((c) => /^docker (build|push|tag) /.test(c)), []);
    // Logged in before the push; the stored manifest type checked after it.
    const order = (prefix: string) => r.calls.findIndex((c) => c.startsWith(prefix));
    assert.ok(order("docker login") < order("docker buildx build"));
    assert.ok(order("aws ecr describe-images") > order("docker buildx build"));
    assert.equal(
      r.calls[order("aws ecr describe-images")],
      "aws ecr describe-images --region eu-west-1 --repository-name cbkit --image-ids imageTag=v1 --query imageDetails[0].imageManifestMediaType --output text",
    );
    assert.match(r.stdout, /^image: "123456789012\.dkr\.ecr\.\{AWS_REGION\}\.amazonaws\.com\/cbkit:v1"$/m);
  });

  it("refuses an OCI image index or OCI manifest in ECR, names the type and prints no image line", () => {
    for (const [type, kind] of [
      [OCI_INDEX, /an image index/],
      ["application/vnd.docker.distribution.manifest.list.v2+json", /an image index/],
      ["application/vnd.oci.image.manifest.v1+json", /an OCI image manifest/],
    ] as const) {
      const r = run(["--region", "eu-west-1"], { FAKE_MEDIA_TYPE: type });
      assert.equal(r.status, 1, `${type}: exit 1`);
      assert.match(r.stderr, kind, type);
      assert.ok(r.stderr.includes(`media type '${type}'`), r.stderr);
      assert.match(r.stderr, /SageMaker accepts only application\/vnd\.docker\.distribution\.manifest\.v2\+json/);
      assert.match(r.stderr, /do not put it into config\.yaml/);
      assert.doesNotMatch(r.stdout, /^image:/m, "nothing to put into config.yaml");
    }
  });

  it("stops before building when buildx is missing, saying why it is needed", () => {
    const r = run(["--region", "eu-west-1"], { FAKE_NO_BUILDX: "1", FAKE_MEDIA_TYPE: DOCKER_V2 });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /'docker buildx' is not available/);
    assert.match(r.stderr, /without provenance attestations and with Docker media types/);
    assert.deepEqual(builds(r.calls), []);
    assert.deepEqual(r.calls.filter((c) => c.startsWith("aws")), []);
  });

  it("--no-push builds the same way into the local image store and calls no AWS", () => {
    const r = run(["--no-push"]);
    assert.equal(r.status, 0, r.stderr);
    const [build] = builds(r.calls);
    assert.match(build, /^docker buildx build --platform linux\/amd64 --provenance=false --sbom=false -f \S+ --load -t cbkit:latest \S+$/);
    assert.deepEqual(r.calls.filter((c) => c.startsWith("aws")), []);
    assert.match(r.stdout, /built cbkit:latest \(not pushed\)/);
  });
});
