/**
 * The Predictor: asks the experiment's endpoint for an action. The same class in both modes — it
 * uses `@aws-sdk/client-sagemaker-runtime`'s InvokeEndpoint; locally the client is pointed at the
 * local endpoint process (endpoint override, dummy credentials).
 */
import * as http from "node:http";
import * as https from "node:https";
import type { SageMakerRuntimeClient, SageMakerRuntimeClientConfig } from "@aws-sdk/client-sagemaker-runtime";

/** The SageMaker Runtime client, loaded by the first predictor that calls an endpoint. */
const runtime = (): typeof import("@aws-sdk/client-sagemaker-runtime") => require("@aws-sdk/client-sagemaker-runtime") as typeof import("@aws-sdk/client-sagemaker-runtime");
import type { Hosting, RuntimeClientSettings } from "../platform/types";
import { checkEventId } from "./ids";

export interface ActionResult {
  /** 1-based action. */
  action: number;
  eventId: string;
  modelId: string;
  actionProb: number;
  /** The split value of the event id (train when <= ratio). */
  sampleProb: number;
  /** The full pmf the action was drawn from (pmf[a-1]). */
  pmf: number[];
  /** Epoch seconds (server clock). */
  timestamp: number;
}

/**
 * A minimal HTTP/1.1 handler for the local endpoint (loopback, keep-alive), used instead of the
 * SDK's general NodeHttpHandler in local mode: the SDK still serialises the InvokeEndpoint request
 * and parses the response, but per-request socket bookkeeping is skipped.
 */
class LoopbackHttpHandler {
  private readonly agent: http.Agent;
  readonly metadata = { handlerProtocol: "http/1.1" };

  constructor(maxSockets: number) {
    this.agent = new http.Agent({ keepAlive: true, maxSockets });
  }

  handle(request: {
    method: string;
    hostname: string;
    port?: number;
    path: string;
    query?: Record<string, string | string[] | null>;
    headers: Record<string, string>;
    body?: unknown;
  }): Promise<{ response: { statusCode: number; headers: Record<string, string>; body: Buffer } }> {
    let path = request.path;
    const q = request.query ? Object.entries(request.query).filter(([, v]) => v !== null) : [];
    if (q.length) {
      path += "?" + q.map(([k, v]) => (Array.isArray(v) ? v.map((x) => `${encodeURIComponent(k)}=${encodeURIComponent(x)}`).join("&") : `${encodeURIComponent(k)}=${encodeURIComponent(v as string)}`)).join("&");
    }
    return new Promise((resolve, reject) => {
      const req = http.request(
        { host: request.hostname, port: request.port, path, method: request.method, headers: request.headers, agent: this.agent },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => {
            const headers: Record<string, string> = {};
            for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(", ") : v;
            resolve({ response: { statusCode: res.statusCode ?? 0, headers, body: chunks.length === 1 ? chunks[0] : Buffer.concat(chunks) } });
          });
          res.on("error", reject);
        },
      );
      req.on("error", reject);
      const body = request.body;
      if (body === undefined || body === null) req.end();
      else req.end(typeof body === "string" || body instanceof Uint8Array ? body : String(body));
    });
  }

  updateHttpClientConfig(): void {}
  httpHandlerConfigs(): Record<string, never> {
    return {};
  }
  destroy(): void {
    this.agent.destroy();
  }
}

const decoder = new TextDecoder();
const encoder = new TextEncoder();

function toResult(r: Record<string, unknown>): ActionResult {
  return {
    action: r.action as number,
    eventId: String(r.event_id),
    modelId: String(r.model_id),
    actionProb: r.action_prob as number,
    sampleProb: r.sample_prob as number,
    pmf: (r.action_probs as number[]) ?? [],
    timestamp: r.timestamp as number,
  };
}

export class Predictor {
  private client: SageMakerRuntimeClient | null = null;
  private clientReady: Promise<SageMakerRuntimeClient> | null = null;
  private endpointUrl: string | null = null;

  constructor(
    private readonly hosting: Hosting,
    readonly endpointName: string,
    /** Concurrent connections to the endpoint (keep-alive). */
    private readonly maxSockets = 64,
  ) {}

  /**
   * The client, made once: concurrent first calls share one lookup, so they share one client and
   * its connection pool (maxSockets holds for the Predictor, not per call).
   */
  private getClient(): Promise<SageMakerRuntimeClient> {
    if (this.client) return Promise.resolve(this.client);
    this.clientReady ??= this.hosting
      .runtimeClientSettings(this.endpointName)
      .then((s) => (this.client = this.makeClient(s)))
      .finally(() => {
        this.clientReady = null;
      });
    return this.clientReady;
  }

  private makeClient(s: RuntimeClientSettings): SageMakerRuntimeClient {
    this.endpointUrl = s.endpoint ?? null;
    return new (runtime().SageMakerRuntimeClient)({
      region: s.region,
      ...(s.endpoint ? { endpoint: s.endpoint } : {}),
      ...(s.credentials ? { credentials: s.credentials } : {}),
      maxAttempts: s.unsigned ? 1 : 3,
      ...(s.unsigned
        ? {
            // The local endpoint does not check signatures: skip SigV4's hashing per request.
            httpAuthSchemes: [
              {
                schemeId: "aws.auth#sigv4",
                identityProvider: () => async () => s.credentials ?? { accessKeyId: "local", secretAccessKey: "local" },
                signer: { sign: async <R>(request: R) => request },
              },
            ] as unknown as SageMakerRuntimeClientConfig["httpAuthSchemes"],
          }
        : {}),
      // SageMaker Runtime is https: the keep-alive pool must be the https agent (an http agent alone
      // is ignored there); the http one serves plain-http endpoint overrides.
      requestHandler: s.unsigned
        ? (new LoopbackHttpHandler(this.maxSockets) as unknown as SageMakerRuntimeClientConfig["requestHandler"])
        : new (require("@smithy/node-http-handler") as typeof import("@smithy/node-http-handler")).NodeHttpHandler({
            httpsAgent: new https.Agent({ keepAlive: true, maxSockets: this.maxSockets }),
            httpAgent: new http.Agent({ keepAlive: true, maxSockets: this.maxSockets }),
          }),
    });
  }

  /**
   * After a connection failure: look the endpoint up again; if it moved (a restarted local
   * endpoint listens on another port), switch to a new client. The old client is released later,
   * so requests of other callers still in flight on it are not cut off.
   */
  private async reconnect(): Promise<void> {
    const s = await this.hosting.runtimeClientSettings(this.endpointName);
    if ((s.endpoint ?? null) === this.endpointUrl && this.client) return;
    const old = this.client;
    this.client = this.makeClient(s);
    if (old) setTimeout(() => old.destroy(), 10_000).unref();
  }

  /** Sends one request; on a connection failure, looks the endpoint up again once (it may have moved). */
  private async send(body: string, contentType: string, eventId?: string): Promise<string> {
    const once = async () => {
      const client = await this.getClient();
      const out = await client.send(
        new (runtime().InvokeEndpointCommand)({
          EndpointName: this.endpointName,
          ContentType: contentType,
          Accept: contentType,
          Body: encoder.encode(body),
          ...(eventId ? { InferenceId: eventId } : {}),
        }),
      );
      return decoder.decode(out.Body);
    };
    try {
      return await once();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ECONNREFUSED" || code === "ECONNRESET" || code === "EPIPE") {
        await this.reconnect();
        return once();
      }
      throw err;
    }
  }

  private async invoke(body: unknown, eventId?: string): Promise<Record<string, unknown>> {
    return JSON.parse(await this.send(JSON.stringify(body), "application/json", eventId)) as Record<string, unknown>;
  }

  /**
   * The endpoint's action for an observation; `eventId` lets the caller choose the event id (1-64
   * printable ASCII characters). It travels in the request body as `event_id`, which the container
   * reads, and as InvokeEndpoint's InferenceId, which data capture records next to the request.
   */
  async getAction(observation: ArrayLike<number>, options: { eventId?: string } = {}): Promise<ActionResult> {
    const eventId = options.eventId === undefined ? undefined : checkEventId(options.eventId, "eventId");
    return toResult(
      await this.invoke({ request_type: "observation", observation: Array.from(observation), ...(eventId !== undefined ? { event_id: eventId } : {}) }, eventId),
    );
  }

  /**
   * Actions for several observations in one InvokeEndpoint call (`application/jsonlines`, one
   * decision per line with its `event_id` when given, each logged by the endpoint like a single
   * request; data capture keeps the call as one record, which the join splits into lines).
   */
  async getActions(observations: ArrayLike<number>[], options: { eventIds?: string[] } = {}): Promise<ActionResult[]> {
    if (observations.length === 0) return [];
    if (options.eventIds && options.eventIds.length !== observations.length) {
      throw new RangeError(`eventIds has ${options.eventIds.length} entries for ${observations.length} observations`);
    }
    const eventIds = options.eventIds?.map((id, i) => checkEventId(id, `eventIds[${i}]`));
    const body =
      observations.map((o, i) => JSON.stringify({ observation: Array.from(o), ...(eventIds ? { event_id: eventIds[i] } : {}) })).join("\n") + "\n";
    const text = await this.send(body, "application/jsonlines");
    return text
      .split("\n")
      .filter((l) => l !== "")
      .map((l) => toResult(JSON.parse(l) as Record<string, unknown>));
  }

  /** The id of the model the endpoint serves now. */
  async getHostedModelId(): Promise<string> {
    const r = await this.invoke({ request_type: "model_id", observation: null });
    return String(r.model_id);
  }

  /** Releases the client's connections. */
  close(): void {
    this.client?.destroy();
    this.client = null;
  }
}
