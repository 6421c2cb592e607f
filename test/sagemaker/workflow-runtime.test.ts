/**
 * The Predictor's connection pool against an HTTPS InvokeEndpoint server (SageMaker Runtime is
 * https only): the keep-alive agent with the Predictor's maxSockets must be the one the SDK uses for
 * https, so the server never sees more parallel connections than maxSockets, and sequential calls
 * reuse one connection. The server is a real TLS server with a throw-away self-signed certificate.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as https from "node:https";
import * as os from "node:os";
import * as path from "node:path";
import { execFileSync } from "node:child_process";
import type { AddressInfo } from "node:net";
import { Predictor } from "@cbkit/common";
import type { Hosting, RuntimeClientSettings } from "@cbkit/common/platform";
import { DUMMY_CREDENTIALS, REGION } from "./helpers";

describe("Predictor over HTTPS: keep-alive and maxSockets reach the SDK client", () => {
  let tmp: string;
  let server: https.Server;
  let url: string;
  let connections = 0;
  let open = 0;
  let maxOpen = 0;
  const bodies: Record<string, unknown>[] = [];
  const previousTls = process.env.NODE_TLS_REJECT_UNAUTHORIZED;

  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "cbkit-https-"));
    const key = path.join(tmp, "key.pem");
    const cert = path.join(tmp, "cert.pem");
    execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=127.0.0.1"], { stdio: "ignore" });
    server = https.createServer({ key: fs.readFileSync(key), cert: fs.readFileSync(cert) }, (req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as Record<string, unknown>;
        bodies.push(body);
        // Slow enough that concurrent calls overlap on the server.
        setTimeout(() => {
          const text = JSON.stringify({ action: 1, action_prob: 1, action_probs: [1], event_id: body.event_id ?? "server-made", model_id: "m", sample_prob: 0.5, timestamp: 1 });
          res.writeHead(200, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text) }).end(text);
        }, 40);
      });
    });
    server.on("secureConnection", (socket) => {
      connections++;
      maxOpen = Math.max(maxOpen, ++open);
      socket.on("close", () => open--);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
    // The throw-away certificate is self-signed; only this test process trusts it.
    process.env.NODE_TLS_REJECT_UNAUTHORIZED = "0";
  });

  after(async () => {
    if (previousTls === undefined) delete process.env.NODE_TLS_REJECT_UNAUTHORIZED;
    else process.env.NODE_TLS_REJECT_UNAUTHORIZED = previousTls;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  const hosting = {
    runtimeClientSettings: async (): Promise<RuntimeClientSettings> => ({ region: REGION, endpoint: url, credentials: DUMMY_CREDENTIALS }),
  } as unknown as Hosting;

  it("opens at most maxSockets connections for many parallel calls, and reuses them", async () => {
    const predictor = new Predictor(hosting, "cbkit-https-test", 3);
    try {
      connections = 0;
      maxOpen = 0;
      const results = await Promise.all(Array.from({ length: 24 }, (_, i) => predictor.getAction([0.1, 0.2], { eventId: `https-${i}` })));
      assert.deepEqual(results.map((r) => r.eventId), Array.from({ length: 24 }, (_, i) => `https-${i}`), "event ids travel in the body");
      assert.ok(maxOpen <= 3, `at most 3 parallel connections (maxSockets), saw ${maxOpen}`);
      assert.ok(connections <= 3, `connections are kept alive and reused, ${connections} were opened for 24 calls`);
      for (let i = 0; i < 5; i++) await predictor.getAction([0.3, 0.4]);
      assert.ok(connections <= 3, `sequential calls reuse a kept-alive connection, ${connections} opened in total`);
      assert.deepEqual(bodies.slice(0, 1).map((b) => Object.keys(b).sort()), [["event_id", "observation", "request_type"]]);
    } finally {
      predictor.close();
    }
  });
});
