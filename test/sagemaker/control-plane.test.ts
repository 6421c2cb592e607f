/**
 * The SageMaker, Athena and CloudWatch control-plane calls (aws-sdk-client-mock, S3 on s3rver):
 * jobs, hosting, the Athena join runner, metrics, settings and clean-up (one process, shared start-up).
 */
import "./jobs.cases";
import "./hosting.cases";
import "./athena-join.cases";
import "./platform.cases";
