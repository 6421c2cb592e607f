/** The storage parts on real protocol emulators: S3 on s3rver, DynamoDB on dynalite (one process, shared start-up). */
import "./s3-store.cases";
import "./dynamo-records.cases";
