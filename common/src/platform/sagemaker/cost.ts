/**
 * What SageMaker mode costs, said before anything billable starts: an on-demand price table kept
 * in the code (no network at run time), and an estimate of the jobs, instance hours and dollars of
 * a piece of work. No AWS SDK here, so the package root can offer it in local mode too.
 */

/**
 * On-demand prices, USD per instance hour, of SageMaker training jobs and real-time endpoints
 * (priced alike for these types) in one region. Recorded for this kit, not fetched: prices differ
 * by region and change, so every estimate names the region and the date and points to the page.
 */
export const SAGEMAKER_PRICES = {
  region: "us-east-1",
  asOf: "2025",
  page: "https://aws.amazon.com/sagemaker/pricing/",
  usdPerHour: {
    "ml.t2.medium": 0.056, // endpoints only (the shipped hosting fleet)
    "ml.m5.large": 0.115,
    "ml.m5.xlarge": 0.23,
    "ml.m5.2xlarge": 0.461,
    "ml.m5.4xlarge": 0.922,
    "ml.c5.large": 0.102,
    "ml.c5.xlarge": 0.204,
    "ml.c5.2xlarge": 0.408,
    "ml.c5.4xlarge": 0.816,
  } as Readonly<Record<string, number>>,
} as const;

/** The instance types and counts SageMaker mode runs on (`resource.private_resource.*`). */
export interface SageMakerFleets {
  trainingInstanceType: string;
  evaluationInstanceType: string;
  hostingInstanceType: string;
  hostingInstanceCount: number;
}

/** The billable work of a run: jobs, endpoint creations and blue/green updates, joins. */
export interface SageMakerWork {
  trainingJobs: number;
  evaluationJobs: number;
  endpointCreates: number;
  /** At most this many blue/green updates (a deploy gate may skip some). */
  endpointUpdates: number;
  joins: number;
}

/**
 * How long things take. The learner needs seconds on the shuttle data; a job's time is mostly
 * SageMaker starting an instance and pulling the image, and only part of that is billed.
 */
export interface CostAssumptions {
  billedMinutesPerJob: number;
  minutesPerJob: number;
  minutesPerEndpointCreate: number;
  minutesPerEndpointUpdate: number;
  /** Athena queries and waiting for data capture to deliver the decisions. */
  minutesPerJoin: number;
}

export const DEFAULT_COST_ASSUMPTIONS: CostAssumptions = {
  billedMinutesPerJob: 3,
  minutesPerJob: 6,
  minutesPerEndpointCreate: 8,
  minutesPerEndpointUpdate: 10,
  minutesPerJoin: 5,
};

export interface CostEstimate {
  fleets: SageMakerFleets;
  work: SageMakerWork;
  assumptions: CostAssumptions;
  /** From the first call to the last, everything in sequence. */
  hours: number;
  /** Billed instance hours of the jobs. */
  jobInstanceHours: number;
  /** Billed instance hours of the endpoint: the whole run, plus the second fleet during updates. */
  endpointInstanceHours: number;
  /** USD, null where an instance type is not in the price table. */
  usd: { jobs: number | null; endpoint: number | null; total: number | null };
  /** What an endpoint left running costs per day (USD), null when its type is not in the table. */
  endpointUsdPerDay: number | null;
  /** Instance types without a price in the table. */
  unpriced: string[];
}

const priceOf = (type: string): number | null => SAGEMAKER_PRICES.usdPerHour[type] ?? null;

/** Jobs, hours and dollars of `work` on `fleets`; see CostAssumptions for the times assumed. */
export function estimateSageMakerCost(fleets: SageMakerFleets, work: SageMakerWork, assumptions: CostAssumptions = DEFAULT_COST_ASSUMPTIONS): CostEstimate {
  const a = assumptions;
  const jobs = work.trainingJobs + work.evaluationJobs;
  const minutes =
    jobs * a.minutesPerJob + work.endpointCreates * a.minutesPerEndpointCreate + work.endpointUpdates * a.minutesPerEndpointUpdate + work.joins * a.minutesPerJoin;
  const hours = minutes / 60;
  const billedHours = (n: number) => (n * a.billedMinutesPerJob) / 60;
  const count = fleets.hostingInstanceCount;
  const endpointInstanceHours = count * (hours + (work.endpointUpdates * a.minutesPerEndpointUpdate) / 60);
  const [train, evaluate, host] = [fleets.trainingInstanceType, fleets.evaluationInstanceType, fleets.hostingInstanceType].map(priceOf);
  const jobsUsd = train === null || evaluate === null ? null : billedHours(work.trainingJobs) * train + billedHours(work.evaluationJobs) * evaluate;
  const endpointUsd = host === null ? null : endpointInstanceHours * host;
  const unpriced = [...new Set([fleets.trainingInstanceType, fleets.evaluationInstanceType, fleets.hostingInstanceType].filter((t) => priceOf(t) === null))];
  return {
    fleets,
    work,
    assumptions,
    hours,
    jobInstanceHours: billedHours(jobs),
    endpointInstanceHours,
    usd: { jobs: jobsUsd, endpoint: endpointUsd, total: jobsUsd === null || endpointUsd === null ? null : jobsUsd + endpointUsd },
    endpointUsdPerDay: host === null ? null : host * count * 24,
    unpriced,
  };
}

const usd = (v: number | null) => (v === null ? "unknown" : `$${v.toFixed(2)}`);

/** Where the prices come from, in one line. */
export function priceSource(): string {
  return (
    `prices: on-demand, ${SAGEMAKER_PRICES.region}, ${SAGEMAKER_PRICES.asOf}, USD per instance hour; ` +
    `they vary by region and over time (${SAGEMAKER_PRICES.page})`
  );
}

/** The estimate as lines to print before a run starts. */
export function formatCostEstimate(e: CostEstimate): string[] {
  const { work, fleets } = e;
  const jobs = work.trainingJobs + work.evaluationJobs;
  const lines = [
    `${jobs} training jobs, one after another: ${work.trainingJobs} trainings on ${fleets.trainingInstanceType}, ` +
      `${work.evaluationJobs} evaluations on ${fleets.evaluationInstanceType} ` +
      `(about ${e.assumptions.billedMinutesPerJob} billed minutes each: ${e.jobInstanceHours.toFixed(1)} instance hours, ${usd(e.usd.jobs)})`,
    `the endpoint: ${fleets.hostingInstanceCount} × ${fleets.hostingInstanceType} for the whole run, twice that during each of up to ` +
      `${work.endpointUpdates} blue/green updates (${e.endpointInstanceHours.toFixed(1)} instance hours, ${usd(e.usd.endpoint)})`,
    `about ${e.hours.toFixed(1)} hours from start to end; estimated cost ${usd(e.usd.total)}`,
    `an endpoint left running bills ${usd(e.endpointUsdPerDay)} a day until cleanResource() (notebook 4) deletes it, also after an error`,
    priceSource(),
  ];
  if (e.unpriced.length) lines.push(`no price in the table for ${e.unpriced.join(", ")}: look it up on the pricing page`);
  return lines;
}

/**
 * What one step costs, for the notice the experiment manager gives once before its first billable
 * step: the job and endpoint instances with their prices, and what keeps billing.
 */
export function stepCostNotice(fleets: SageMakerFleets): string {
  const price = (type: string) => (priceOf(type) === null ? "price not in the kit's table" : `$${priceOf(type)!.toFixed(3)}/h`);
  const jobTypes = [...new Set([fleets.trainingInstanceType, fleets.evaluationInstanceType])];
  const perDay = estimateSageMakerCost(fleets, { trainingJobs: 0, evaluationJobs: 0, endpointCreates: 0, endpointUpdates: 0, joins: 0 }).endpointUsdPerDay;
  return [
    "SageMaker mode bills what runs:",
    `  each training or evaluation job runs on ${jobTypes.map((t) => `${t} (${price(t)})`).join(" / ")} for a few minutes;` +
      " interrupting its wait (Ctrl-C, Jupyter's Interrupt) stops the job",
    `  the endpoint runs on ${fleets.hostingInstanceCount} × ${fleets.hostingInstanceType} (${price(fleets.hostingInstanceType)}, ` +
      `${usd(perDay)} a day) until cleanResource() deletes it, also after an error`,
    `  ${priceSource()}`,
  ].join("\n");
}
