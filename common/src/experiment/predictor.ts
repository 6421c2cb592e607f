/**
 * The Predictor: asks the experiment's endpoint for an action. The same class in both modes — it
 * uses `@aws-sdk/client-sagemaker-runtime`'s InvokeEndpoint; locally the client is pointed at the
 * local endpoint process (endpoint override, dummy credentials).
 */
import * as http from "node:http";
import { InvokeEndpointCommand, SageMakerRuntimeClient, type SageMakerRuntimeClientConfig } from "@aws-sdk/client-sagemaker-runtime";
import type { Hosting } from "../platform/types";

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

  constructor(
    private readonly hosting: Hosting,
    readonly endpointName: string,
    /** Concurrent connections to the endpoint (keep-alive). */
    private readonly maxSockets = 64,
  ) {}

  private async getClient(): Promise<SageMakerRuntimeClient> {
    if (this.client) return this.client;
    const s = await this.hosting.runtimeClientSettings(this.endpointName);
    this.client = new SageMakerRuntimeClient({
      region: s.region,
      ...(s.endpoint ? { endpoint: s.endpoint } : {}),
      ...(s.credentials ? { credentials: s.credentials } : {}),
      maxAttempts: 2,
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
      requestHandler: { httpAgent: new http.Agent({ keepAlive: true, maxSockets: this.maxSockets }) },
    });
    return this.client;
  }

  /** Sends one request; on a connection failure, looks the endpoint up again once (it may have moved). */
  private async send(body: string, contentType: string, eventId?: string): Promise<string> {
    const once = async () => {
      const client = await this.getClient();
      const out = await client.send(
        new InvokeEndpointCommand({
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
        this.close();
        return once();
      }
      throw err;
    }
  }

  private async invoke(body: unknown, eventId?: string): Promise<Record<string, unknown>> {
    return JSON.parse(await this.send(JSON.stringify(body), "application/json", eventId)) as Record<string, unknown>;
  }

  /** The endpoint's action for an observation; `eventId` lets the caller choose the event id. */
  async getAction(observation: ArrayLike<number>, options: { eventId?: string } = {}): Promise<ActionResult> {
    return toResult(await this.invoke({ request_type: "observation", observation: Array.from(observation) }, options.eventId));
  }

  /**
   * Actions for several observations in one InvokeEndpoint call (`application/jsonlines`, one
   * decision per line, each logged by the endpoint like a single request).
   */
  async getActions(observations: ArrayLike<number>[], options: { eventIds?: string[] } = {}): Promise<ActionResult[]> {
    if (observations.length === 0) return [];
    if (options.eventIds && options.eventIds.length !== observations.length) {
      throw new RangeError(`eventIds has ${options.eventIds.length} entries for ${observations.length} observations`);
    }
    const body =
      observations
        .map((o, i) => JSON.stringify({ observation: Array.from(o), ...(options.eventIds ? { event_id: options.eventIds[i] } : {}) }))
        .join("\n") + "\n";
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
