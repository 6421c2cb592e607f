/**
 * CloudWatch metrics per experiment (namespace `ContextualBandits`, dimension `ExperimentId`) and
 * a dashboard named after the experiment, laid out like the original's (§6.4): hosted and latest
 * trained model scores, new-model scores over time, and the reported rewards.
 */
import {
  DeleteDashboardsCommand,
  GetMetricDataCommand,
  PutDashboardCommand,
  PutMetricDataCommand,
  type CloudWatchClient,
} from "@aws-sdk/client-cloudwatch";
import type { MetricPoint, Metrics } from "../types";
import { awsCall, awsErrorName } from "./aws";
import { METRIC_NAMESPACE } from "./names";

const DIMENSION = "ExperimentId";
/** How far back `get` reads (CloudWatch keeps 1-minute data for 15 days). */
const HISTORY_MS = 15 * 24 * 3600 * 1000;

/** The console link of an experiment's dashboard. */
export function dashboardUrl(region: string, experimentId: string): string {
  return `https://${region}.console.aws.amazon.com/cloudwatch/home?region=${region}#dashboards:name=${encodeURIComponent(experimentId)};start=PT1H`;
}

/** Metric names: the manager's per-batch rewards, and what this platform publishes itself. */
export const METRIC_NAMES = {
  rewards: "reported_rewards_score",
  evaluatedScore: "newly_trained_model_score",
  hostedScore: "latest_hosted_model_score",
  deployments: "model_deployments",
} as const;

/** The dashboard body, after the original's (§6.4): hosted/new model scores, rewards, deployments. */
export function dashboardBody(region: string, experimentId: string): string {
  const metric = (name: string, label: string) => [METRIC_NAMESPACE, name, DIMENSION, experimentId, { label }];
  const widget = (x: number, y: number, w: number, h: number, title: string, name: string, label: string, stat: string, view: "singleValue" | "timeSeries", extra: Record<string, unknown> = {}) => ({
    type: "metric",
    x,
    y,
    width: w,
    height: h,
    properties: { metrics: [metric(name, label)], view, region, stat, period: 60, title, ...extra },
  });
  const unitAxis = { yAxis: { left: { min: 0, max: 1 } }, stacked: false };
  return JSON.stringify({
    widgets: [
      widget(0, 0, 9, 3, "Hosted model eval score (average cost, lower is better)", METRIC_NAMES.hostedScore, "EvalScore", "Minimum", "singleValue", { setPeriodToTimeRange: true }),
      widget(9, 0, 9, 3, "Latest evaluated model score (average cost)", METRIC_NAMES.evaluatedScore, "EvalScore", "Maximum", "singleValue", { setPeriodToTimeRange: true }),
      widget(0, 3, 9, 9, "Reported rewards (mean per batch)", METRIC_NAMES.rewards, "Rewards", "Maximum", "timeSeries", { ...unitAxis, liveData: true, legend: { position: "bottom" } }),
      widget(9, 3, 9, 9, "Evaluated model scores over time", METRIC_NAMES.evaluatedScore, "EvalScore", "Maximum", "timeSeries", unitAxis),
      widget(0, 12, 18, 4, "Model deployments", METRIC_NAMES.deployments, "Deployments", "Sum", "timeSeries", { stacked: false }),
    ],
  });
}

export class CloudWatchMetrics implements Metrics {
  private readonly dashboards = new Set<string>();

  constructor(
    private readonly cw: CloudWatchClient,
    private readonly region: string,
    private readonly now: () => number = Date.now,
  ) {}

  /** Creates or overwrites the experiment's dashboard; returns its link. */
  async putDashboard(experimentId: string): Promise<string> {
    await awsCall("cloudwatch:PutDashboard", () =>
      this.cw.send(new PutDashboardCommand({ DashboardName: experimentId, DashboardBody: dashboardBody(this.region, experimentId) })),
    );
    this.dashboards.add(experimentId);
    return dashboardUrl(this.region, experimentId);
  }

  /** Deletes the dashboard; false when there was none. */
  async deleteDashboard(experimentId: string): Promise<boolean> {
    try {
      await awsCall("cloudwatch:DeleteDashboards", () => this.cw.send(new DeleteDashboardsCommand({ DashboardNames: [experimentId] })));
      this.dashboards.delete(experimentId);
      return true;
    } catch (error) {
      if (["ResourceNotFound", "DashboardNotFoundError", "ResourceNotFoundException"].includes(awsErrorName(error))) return false;
      throw error;
    }
  }

  async put(experimentId: string, name: string, value: number, timestamp?: string): Promise<void> {
    if (!Number.isFinite(value)) throw new RangeError(`metric ${name} must be a finite number, got ${value}`);
    if (!/^[A-Za-z0-9_.:-]{1,255}$/.test(name)) throw new RangeError(`metric name '${name}' must be 1-255 letters, digits, '_', '.', ':' or '-'`);
    const at = timestamp ? new Date(timestamp) : new Date(this.now());
    if (Number.isNaN(at.getTime())) throw new RangeError(`metric ${name}: timestamp '${timestamp}' is not an ISO date`);
    // The dashboard appears with the first metric, so a link is never dead.
    if (!this.dashboards.has(experimentId)) await this.putDashboard(experimentId);
    await awsCall("cloudwatch:PutMetricData", () =>
      this.cw.send(
        new PutMetricDataCommand({
          Namespace: METRIC_NAMESPACE,
          MetricData: [{ MetricName: name, Dimensions: [{ Name: DIMENSION, Value: experimentId }], Timestamp: at, Value: value }],
        }),
      ),
    );
  }

  async get(experimentId: string, name: string): Promise<MetricPoint[]> {
    const end = new Date(this.now());
    const start = new Date(end.getTime() - HISTORY_MS);
    const points: MetricPoint[] = [];
    let token: string | undefined;
    do {
      const out = await awsCall("cloudwatch:GetMetricData", () =>
        this.cw.send(
          new GetMetricDataCommand({
            StartTime: start,
            EndTime: end,
            ScanBy: "TimestampAscending",
            NextToken: token,
            MetricDataQueries: [
              {
                Id: "m",
                MetricStat: {
                  Metric: { Namespace: METRIC_NAMESPACE, MetricName: name, Dimensions: [{ Name: DIMENSION, Value: experimentId }] },
                  Period: 60,
                  Stat: "Average",
                },
              },
            ],
          }),
        ),
      );
      for (const result of out.MetricDataResults ?? []) {
        const times = result.Timestamps ?? [];
        const values = result.Values ?? [];
        for (let i = 0; i < Math.min(times.length, values.length); i++) points.push({ timestamp: times[i].toISOString(), value: values[i] });
      }
      token = out.NextToken;
    } while (token);
    return points.sort((a, b) => (a.timestamp < b.timestamp ? -1 : a.timestamp > b.timestamp ? 1 : 0));
  }
}
