/**
 * The Predictor: asks the experiment's endpoint for an action. The same class in both modes — it
 * uses `@aws-sdk/client-sagemaker-runtime`'s InvokeEndpoint; locally the client is pointed at the
 * local endpoint process (endpoint override, dummy credentials).
 */
import * as http from "node:http";
import { InvokeEndpointCommand, SageMakerRuntimeClient } from "@aws-sdk/client-sagemaker-runtime";
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
      requestHandler: { httpAgent: new http.Agent({ keepAlive: true, maxSockets: this.maxSockets }) },
    });
    return this.client;
  }

  /** Sends one JSON request; on a connection failure, looks the endpoint up again once (it may have moved). */
  private async invoke(body: unknown, eventId?: string): Promise<Record<string, unknown>> {
    const send = async () => {
      const client = await this.getClient();
      const out = await client.send(
        new InvokeEndpointCommand({
          EndpointName: this.endpointName,
          ContentType: "application/json",
          Accept: "application/json",
          Body: new TextEncoder().encode(JSON.stringify(body)),
          ...(eventId ? { InferenceId: eventId } : {}),
        }),
      );
      return JSON.parse(decoder.decode(out.Body)) as Record<string, unknown>;
    };
    try {
      return await send();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ECONNREFUSED" || code === "ECONNRESET" || code === "EPIPE") {
        this.close();
        return send();
      }
      throw err;
    }
  }

  /** The endpoint's action for an observation; `eventId` lets the caller choose the event id. */
  async getAction(observation: ArrayLike<number>, options: { eventId?: string } = {}): Promise<ActionResult> {
    const r = await this.invoke({ request_type: "observation", observation: Array.from(observation) }, options.eventId);
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
