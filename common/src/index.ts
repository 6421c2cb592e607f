/**
 * @cbkit/common: what a workshop notebook or script uses — settings, the experiment manager and
 * its loop, the learner's and the estimators' main API, the display helpers, the errors to catch.
 * Everything else is under a named subpath (package.json "exports", docs/architecture.md):
 * /config /data /join /learner /ope /display /container /platform /local /sagemaker /experiment
 * /util. test/unit/public-face.test.ts lists the names below, so the root grows only on purpose.
 */

// Settings
export { loadConfig, ConfigError, type Config, type ConfigIssue } from "./config/load";

// The experiment: the manager, the continual-learning loop and its deploy gate
export { ExperimentManager, type ExperimentManagerOptions } from "./experiment/manager";
export { Predictor, type ActionResult } from "./experiment/predictor";
export {
  startExperiment,
  runLoop,
  runContinualLearning,
  loopSettings,
  loopResult,
  type ClientApplication,
  type ClientUser,
  type ContinualLearningOptions,
  type ContinualLearningRun,
  type GateData,
  type LoopRow,
  type LoopSettings,
  type StartSummary,
} from "./experiment/loop";
export { gatePasses, gateReason, type GateRule, type GateScore } from "./experiment/gate";
export type { EndpointDescription, ExperimentRecord, JoinJobRecord, ModelRecord, RewardRecord } from "./platform/types";
export type { JoinedRecord } from "./data/records";

// The learner
export { CbLearner, type ChosenAction, type TrainReport } from "./learner/learner";
export { EXPLORATION_POLICIES, type ExplorationPolicy, type LearnerOptions } from "./learner/policies";
export { learnerOptionsFromParameters } from "./learner/options";
export { loadModel, saveModel } from "./learner/model";
export { readJoinedRecords } from "./data/joinedFiles";

// Off-policy evaluation
export { evaluatePolicy, comparePolicies, type PolicyComparison } from "./ope/evaluate";
export { ESTIMATORS, IPS, SNIPS, DM, DR, SNDR, estimatorNamed, type EstimatorName } from "./ope/estimators";
export type { OpeEstimate } from "./ope/score";

// Display helpers (tables, figures, live progress and dashboards in the notebook)
export { showTable } from "./display/table";
export { showFigure, showPlotlyLibrary } from "./display/chart";
export { showConfig } from "./display/config";
export { barFigure, costFigure, pmfFigure, linesFigure, formatScore, distinctDecimals, compareCosts } from "./display/figures";
export { Progress } from "./display/progress";
export { LoopDashboard, InferenceMonitor, loopSummaryRows, type LoopResult } from "./display/dashboard";

// The errors a user catches
export {
  WorkflowError,
  InvalidUsageError,
  WorkflowInProgressError,
  TrainingJobError,
  EvaluationJobError,
  HostingError,
  JoiningError,
  EvalScoreNotAvailableError,
  ExperimentDeletedError,
} from "./experiment/errors";
export { InvalidExperimentIdError } from "./experiment/ids";
export { ConflictError, JobFailedError, ObjectStoreError } from "./platform/types";
export { DataFileError } from "./data/records";
export { RewardRangeError } from "./data/rewards";
export { LearnerError, ConfigMismatchError } from "./learner/errors";
export { ModelLayoutError } from "./learner/options";
export { ModelFormatError } from "./learner/model";
export { OpeInputError } from "./ope/errors";
