/** The SageMaker platform (`local_mode: false`) and its parts. */
export { createSageMakerPlatform, SageMakerPlatform, type SageMakerClients, type SageMakerPlatformOptions } from "./platform";
export { S3ObjectStore, parseS3Uri } from "./s3-store";
export { DynamoRecordStore, type DynamoRecordStoreOptions } from "./dynamo-records";
export { SageMakerJobRunner, checkSageMakerName, packedArtifactUri, trainingJobLogsPointer } from "./jobs";
export { SageMakerHosting, SageMakerNameCollisionError, checkSameName, endpointConfigName, servingEnvironment, VARIANT_NAME } from "./hosting";
export { AthenaJoiner, AthenaQueryError, DecisionsNotVisibleError } from "./athena-join";
export {
  athenaJoinQueries,
  athenaTableNames,
  captureHour,
  createDatabaseSql,
  createDecisionsTableSql,
  createJoinedIdsTableSql,
  createRewardsTableSql,
  decisionsRelationSql,
  joinedIdsRelationSql,
  rewardsRelationSql,
  dropTableSql,
  DUCKDB_TRINO_SHIMS,
} from "./athena-sql";
export { CloudWatchMetrics, dashboardBody, dashboardUrl, METRIC_NAMES } from "./metrics";
export { EXPERIMENT_TAG, JOB_TAG, METRIC_NAMESPACE } from "./names";
export { AwsPermissionError, isAccessDenied } from "./aws";
export { cleanupExperiment } from "./cleanup";
export { checkSageMakerSetup, SAGEMAKER_IMAGE_MANIFEST, type SetupCheck, type SetupCheckClients } from "./preflight";
export {
  requiredIamPermissions,
  callerPolicyDocument,
  executionRolePolicyDocument,
  executionRoleTrustDocument,
  policyScopeOf,
  type PolicyScope,
  type IamPermission,
} from "./iam";
export {
  SageMakerConfigError,
  sageMakerSettingsFromConfig,
  resolveSageMakerSettings,
  resolveImage,
  parseRollbackAlarms,
  DEFAULT_SERVING_LIMITS,
  type SageMakerSettings,
  type SageMakerSettingsInput,
  type ServingLimits,
  type TableCapacity,
} from "./settings";
export { readTar, writeTarGz, type TarEntry } from "./tar";
export * from "./cost";
export { pollUntil, whileInterruptible, WaitInterruptedError, WaitTimeoutError, type PollOptions } from "./waiter";
