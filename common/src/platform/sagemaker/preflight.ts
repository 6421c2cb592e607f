/**
 * A setup check to run before the first SageMaker job: credentials, execution role, image, bucket
 * and tables — the things that otherwise fail minutes into a workshop, one at a time. Every check
 * reports instead of throwing, so one call lists everything that needs fixing.
 */
import { DescribeTableCommand, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DescribeImagesCommand, ECRClient } from "@aws-sdk/client-ecr";
import { GetRoleCommand, IAMClient } from "@aws-sdk/client-iam";
import { HeadBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { GetCallerIdentityCommand, STSClient } from "@aws-sdk/client-sts";
import { awsErrorName, isAccessDenied } from "./aws";
import { SageMakerConfigError, resolveSageMakerSettings, sageMakerSettingsFromConfig, type SageMakerSettings } from "./settings";

export interface SetupCheck {
  check: string;
  ok: boolean;
  detail: string;
  /** What to do when not ok. */
  fix?: string;
}

export interface SetupCheckClients {
  sts: STSClient;
  iam: IAMClient;
  /** Built for the image's region when absent. */
  ecr: ECRClient;
  s3: S3Client;
  dynamodb: DynamoDBClient;
}

/**
 * The manifest type SageMaker takes for an image: it refuses OCI manifests and image indexes
 * ("Unsupported manifest media type"), which recent Docker pushes by default. scripts/image-build-push.sh
 * checks the same type after its push.
 */
export const SAGEMAKER_IMAGE_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json";

const ECR_IMAGE = /^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?\/([a-z0-9._\/-]+)(?::([\w.-]+))?(?:@(sha256:[a-f0-9]{64}))?$/;

/** Runs one check; an AWS refusal becomes "could not check" with the permission to grant. */
async function attempt(check: string, permission: string, run: () => Promise<SetupCheck>): Promise<SetupCheck> {
  try {
    return await run();
  } catch (error) {
    const message = (error as Error).message;
    if (isAccessDenied(error))
      return { check, ok: false, detail: `could not check: ${message}`, fix: `grant ${permission} to run this check (see docs/sagemaker.md)` };
    return { check, ok: false, detail: `${awsErrorName(error) || "error"}: ${message}` };
  }
}

/** Checks the SageMaker-mode setup of a loaded config; see `SetupCheck`. */
export async function checkSageMakerSetup(config: unknown, given: Partial<SetupCheckClients> = {}): Promise<SetupCheck[]> {
  let settings: SageMakerSettings;
  try {
    settings = await resolveSageMakerSettings(sageMakerSettingsFromConfig(config), { sts: given.sts, iam: given.iam });
  } catch (error) {
    if (error instanceof SageMakerConfigError) return [{ check: error.field, ok: false, detail: error.message }];
    if (isAccessDenied(error) || /credential/i.test((error as Error).message))
      return [{ check: "credentials", ok: false, detail: (error as Error).message, fix: "configure AWS credentials (profile, SSO, environment or instance role)" }];
    throw error;
  }
  const region = settings.region;
  const sts = given.sts ?? new STSClient({ region });
  const iam = given.iam ?? new IAMClient({ region });
  const s3 = given.s3 ?? new S3Client({ region });
  const dynamodb = given.dynamodb ?? new DynamoDBClient({ region });
  const checks: SetupCheck[] = [];
  const created: { destroy(): void }[] = [sts, iam, s3, dynamodb].filter((c, i) => !given[(["sts", "iam", "s3", "dynamodb"] as const)[i]]);

  checks.push(
    await attempt("credentials", "sts:GetCallerIdentity", async () => {
      const id = await sts.send(new GetCallerIdentityCommand({}));
      return { check: "credentials", ok: true, detail: `account ${id.Account} as ${id.Arn} in ${region}` };
    }),
  );

  const roleName = settings.roleArn.split("/").pop() ?? "";
  checks.push(
    await attempt("execution role", "iam:GetRole", async () => {
      try {
        const role = await iam.send(new GetRoleCommand({ RoleName: roleName }));
        const trust = decodeURIComponent(role.Role?.AssumeRolePolicyDocument ?? "");
        // Looked up by name, the role is found even when the configured ARN lacks its path
        // (service-role/...): compare the ARN SageMaker will be given with the role's real one.
        const actual = role.Role?.Arn;
        if (actual && actual !== settings.roleArn)
          return {
            check: "execution role",
            ok: false,
            detail: `sagemaker.role_arn is ${settings.roleArn}, but the role named ${roleName} has the ARN ${actual} (path ${role.Role?.Path ?? "/"})`,
            fix: `set sagemaker.role_arn to ${actual}`,
          };
        if (!trust.includes("sagemaker.amazonaws.com"))
          return { check: "execution role", ok: false, detail: `${settings.roleArn} does not trust sagemaker.amazonaws.com`, fix: "add the trust policy of docs/sagemaker.md section 2.1" };
        return { check: "execution role", ok: true, detail: `${settings.roleArn} exists and trusts SageMaker` };
      } catch (error) {
        if (awsErrorName(error) === "NoSuchEntityException" || awsErrorName(error) === "NoSuchEntity")
          return { check: "execution role", ok: false, detail: `no role ${roleName}`, fix: "create it (docs/sagemaker.md section 2.1) and put its ARN into sagemaker.role_arn" };
        throw error;
      }
    }),
  );

  const image = ECR_IMAGE.exec(settings.image);
  if (!image) checks.push({ check: "image", ok: true, detail: `${settings.image} is not an ECR image; not checked (SageMaker needs ECR or a private registry it can reach)` });
  else {
    const [, registryId, imageRegion, repositoryName, tag, digest] = image;
    if (imageRegion !== region)
      checks.push({ check: "image", ok: false, detail: `${settings.image} is in ${imageRegion}, SageMaker runs in ${region}`, fix: `push the image to ${region}: scripts/image-build-push.sh --region ${region}` });
    else
      checks.push(
        await attempt("image", "ecr:DescribeImages", async () => {
          const ecr = given.ecr ?? new ECRClient({ region: imageRegion });
          if (!given.ecr) created.push(ecr);
          try {
            const found = await ecr.send(new DescribeImagesCommand({ registryId, repositoryName, imageIds: [digest ? { imageDigest: digest } : { imageTag: tag ?? "latest" }] }));
            const mediaType = found.imageDetails?.[0]?.imageManifestMediaType;
            if (mediaType && mediaType !== SAGEMAKER_IMAGE_MANIFEST)
              return {
                check: "image",
                ok: false,
                detail: `${settings.image} has the manifest type ${mediaType}; SageMaker accepts only ${SAGEMAKER_IMAGE_MANIFEST}`,
                fix: `push it again with scripts/image-build-push.sh --region ${region} (it builds without attestations, with Docker media types)`,
              };
            return { check: "image", ok: true, detail: `${settings.image} exists${mediaType ? ` (${mediaType})` : ""}` };
          } catch (error) {
            if (["ImageNotFoundException", "RepositoryNotFoundException"].includes(awsErrorName(error)))
              return { check: "image", ok: false, detail: `${settings.image}: ${(error as Error).message}`, fix: `build and push it: scripts/image-build-push.sh --region ${region}` };
            throw error;
          }
        }),
      );
  }

  checks.push(
    await attempt("bucket", "s3:ListBucket", async () => {
      try {
        await s3.send(new HeadBucketCommand({ Bucket: settings.bucket }));
        return { check: "bucket", ok: true, detail: `s3://${settings.bucket} exists` };
      } catch (error) {
        if ((error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404 || awsErrorName(error) === "NotFound")
          return { check: "bucket", ok: true, detail: `s3://${settings.bucket} does not exist yet; it is created on first use` };
        if ((error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 403)
          return { check: "bucket", ok: false, detail: `s3://${settings.bucket} exists but is not usable with these credentials`, fix: "set sagemaker.bucket to a bucket of yours, or grant the S3 permissions" };
        throw error;
      }
    }),
  );

  for (const [kind, table] of Object.entries(settings.tables))
    checks.push(
      await attempt(`${kind} table`, "dynamodb:DescribeTable", async () => {
        try {
          const out = await dynamodb.send(new DescribeTableCommand({ TableName: table }));
          return { check: `${kind} table`, ok: true, detail: `${table} is ${out.Table?.TableStatus ?? "present"}` };
        } catch (error) {
          if (awsErrorName(error) === "ResourceNotFoundException") return { check: `${kind} table`, ok: true, detail: `${table} does not exist yet; it is created on first use` };
          throw error;
        }
      }),
    );

  for (const client of created) client.destroy();
  return checks;
}
