/**
 * @cbkit/sim_app: the simulated client application (the Statlog shuttle users and their rewards)
 * and what the notebooks call beside @cbkit/common. The rest is under named subpaths: /statlog
 * (the data set and its preprocessing), /simulate, /workshop (npm start's run and report), /cli.
 * test/unit/public-face.test.ts lists the names below, so the root grows only on purpose.
 */
export { StatlogSimApp, type SimUser, type StatlogSimAppOptions, type GetRewardArgs } from "./statlog/sim-app";
export { prepareStatlogWarmStartData, evaluateHistoricalData, type WarmStartOptions } from "./statlog/warm-start";
export { resolveShuttleDataFile, loadStatlogData, type StatlogData } from "./statlog/data";
export { checkAppMatchesConfig, AppConfigMismatchError } from "./statlog/app-config";
export {
  openExperiment,
  ExperimentHasModelsError,
  sendRequestsWhile,
  compareExplorationPolicies,
  type PolicyVariant,
  type PolicyComparisonRow,
} from "./workshop/notebook";
export { runWorkshop, type WorkshopOptions, type WorkshopResult } from "./workshop/run";
export { workshopLoops, showCloudCost } from "./workshop/cloud-cost";
export { simulate, type SimulateOptions, type SimulationResult } from "./simulate/simulate";
