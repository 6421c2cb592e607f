/** Off-policy evaluation: IPS, SNIPS, DM, DR (the default) and SNDR with confidence intervals. */
export * from "./types";
export * from "./estimators";
export * from "./score";
export { OpeInputError } from "./errors";
export { OpeAccumulator, DifferenceAccumulator, MIN_RELIABLE_ESS } from "./accumulators";
export type { AccumulatorState, PairedOpeSample } from "./accumulators";
export { RidgeCostModel, crossFitCostPredictions } from "./cost-model";
export { fittedCostModels, FittedCostModels } from "./cost-model-cache";
export type { CostRow, CostFeatureMap, RidgeCostModelOptions, CrossFitOptions } from "./cost-model";
export { evaluatePolicy, comparePolicies, evaluateModelOnRecords, PolicyEvaluationStream, PMF_SUM_TOLERANCE, DEFAULT_FOLD_REPEATS } from "./evaluate";
export type { EvaluatePolicyOptions, EvaluateModelOptions, PolicyEvaluationStreamOptions, PolicyComparison } from "./evaluate";
export { formatEstimateTable, formatComparisonTable, estimatorsMarkdownTable, withEstimatorsTable } from "./format";
export { normalQuantile } from "./stats";
