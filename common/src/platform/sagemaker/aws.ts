/**
 * Calling AWS: one wrapper that turns a permission refusal into an error listing the IAM
 * permissions SageMaker mode needs (iam.ts), and the error-name helper for branching on "not
 * found" and the like. Every SageMaker-mode module calls AWS through `awsCall`.
 */
import { requiredIamPermissions } from "./iam";

/** Raised when AWS refuses a call for lack of permission; lists what to grant. */
export class AwsPermissionError extends Error {
  constructor(
    readonly operation: string,
    readonly awsMessage: string,
  ) {
    const lines = requiredIamPermissions()
      .filter((p) => p.principal !== "image")
      .map((p) => `  ${p.principal === "caller" ? "you " : "role"}  ${p.action}`);
    super(
      `AWS denied ${operation}: ${awsMessage}\n` +
        "SageMaker mode needs these IAM permissions (\"you\" = the credentials running the notebook, " +
        "\"role\" = sagemaker.role_arn; iam:PassRole must cover that role). See docs/sagemaker.md for policy JSON:\n" +
        [...new Set(lines)].join("\n"),
    );
    this.name = "AwsPermissionError";
  }
}

/** True for the ways AWS says "not allowed" (HTTP 403, AccessDenied*, PassRole refusals). */
export function isAccessDenied(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const e = error as Error & { name?: string; Code?: string; $metadata?: { httpStatusCode?: number } };
  const name = `${e.name ?? ""} ${e.Code ?? ""}`;
  if (/AccessDenied|UnauthorizedOperation|NotAuthorized|UnrecognizedClient|InvalidClientTokenId/i.test(name)) return true;
  if (/not authorized to perform|is not authorized|access denied/i.test(e.message)) return true;
  return e.$metadata?.httpStatusCode === 403;
}

/** Runs one AWS call and turns a permission refusal into an `AwsPermissionError` naming the fix. */
export async function awsCall<T>(operation: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (isAccessDenied(error)) throw new AwsPermissionError(operation, (error as Error).message);
    throw error;
  }
}

/** The error's AWS name/code, for branching on "not found" and the like. */
export function awsErrorName(error: unknown): string {
  if (!error || typeof error !== "object") return "";
  const e = error as { name?: string; Code?: string; __type?: string };
  return e.name ?? e.Code ?? e.__type ?? "";
}
