/** The storage parts on real protocol emulators: S3 on s3rver and moto, DynamoDB on dynalite and moto (one process, shared start-up). */
import "./s3-store.cases";
import "./dynamo-records.cases";
