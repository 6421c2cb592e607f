/**
 * The SageMaker, Athena and CloudWatch control-plane calls (aws-sdk-client-mock; S3 and DynamoDB on s3rver/dynalite and again on moto):
 * jobs, hosting, the Athena join runner, metrics, settings and clean-up (one process, shared start-up).
 */
import "./jobs.cases";
import "./hosting.cases";
import "./athena-join.cases";
import "./platform.cases";
