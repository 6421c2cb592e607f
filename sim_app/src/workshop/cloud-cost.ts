/**
 * What a workshop run costs on SageMaker, said before it starts (`npm start` with local_mode false,
 * notebook 3): the billable work of `startExperiment` and `runLoop` (run.ts), priced with the
 * kit's table (common: platform/sagemaker/cost.ts). Local mode bills nothing and says nothing.
 */
import type { Config } from "@cbkit/common";
import { estimateSageMakerCost, formatCostEstimate, type SageMakerFleets, type SageMakerWork } from "@cbkit/common/platform";

/** Loops of a local run (npm start, notebook 3). */
export const LOCAL_LOOPS = 15;
/**
 * Loops of a run on SageMaker: each loop is three billed jobs and about half an hour of waiting,
 * and 5 loops already show every part of the loop (in the shipped run three of the first five
 * challengers pass the gate and are deployed blue/green).
 */
export const SAGEMAKER_LOOPS = 5;
/** The instance type the cost notice offers for jobs: the learner uses one core. */
export const SMALL_JOB_INSTANCE = "ml.m5.large";

/** The default number of loops for a config: 15 locally, 5 on SageMaker. */
export function workshopLoops(config: Config): number {
  return config.local_mode ? LOCAL_LOOPS : SAGEMAKER_LOOPS;
}

/**
 * The billable work of `startExperiment` (the first model's training and evaluation, the endpoint)
 * and `loops` calls of `runLoop` (a join, the challenger's training, the challenger's and the
 * champion's evaluations, and a blue/green update when the gate passes).
 */
export function workshopWork(loops: number): SageMakerWork {
  return { trainingJobs: 1 + loops, evaluationJobs: 1 + 2 * loops, endpointCreates: 1, endpointUpdates: loops, joins: loops };
}

function fleetsOf(config: Config): SageMakerFleets {
  const fleets = config.resource.private_resource;
  return {
    trainingInstanceType: fleets.training_fleet.instance_type,
    evaluationInstanceType: fleets.evaluation_fleet.instance_type,
    hostingInstanceType: fleets.hosting_fleet.instance_type,
    hostingInstanceCount: fleets.hosting_fleet.instance_count,
  };
}

/**
 * The notice to print before a workshop run of `loops` loops in SageMaker mode: its jobs, instance
 * hours and estimated cost, and a smaller run when this one is bigger. Null in local mode.
 */
export function cloudCostNotice(config: Config, loops: number): string | null {
  if (config.local_mode) return null;
  const fleets = fleetsOf(config);
  const estimate = estimateSageMakerCost(fleets, workshopWork(loops));
  const lines = [`SageMaker mode: this run of ${loops} loops starts billed AWS resources (an estimate):`, ...formatCostEstimate(estimate).map((l) => `  ${l}`)];
  const smallLoops = Math.min(loops, SAGEMAKER_LOOPS);
  const small = estimateSageMakerCost({ ...fleets, trainingInstanceType: SMALL_JOB_INSTANCE, evaluationInstanceType: SMALL_JOB_INSTANCE }, workshopWork(smallLoops));
  const cheaper = estimate.usd.total === null || (small.usd.total !== null && small.usd.total < estimate.usd.total - 0.005);
  if (smallLoops < loops || cheaper) {
    const jobs = small.work.trainingJobs + small.work.evaluationJobs;
    lines.push(
      `  smaller: ${smallLoops} loops with jobs on ${SMALL_JOB_INSTANCE}: ${jobs} jobs, about ${small.hours.toFixed(1)} hours, ` +
        `$${small.usd.total?.toFixed(2) ?? "?"} (npm start --loops ${smallLoops}; TOTAL_LOOPS in notebook 3; ` +
        "resource.private_resource.training_fleet / evaluation_fleet.instance_type in config.yaml)",
    );
  }
  return lines.join("\n");
}

/** Prints the notice of `cloudCostNotice` (SageMaker mode only), for notebook cells. */
export function showCloudCost(config: Config, loops: number): void {
  const notice = cloudCostNotice(config, loops);
  if (notice) console.log(notice);
}
