/**
 * The client app against the config: the model's shape in config.yaml (num_arms, num_features)
 * must be the app's, checked up front with an error that names each key and the value to set.
 */
/** The part of a loaded config that fixes the model's shape (a full `Config` fits). */
export interface AppShapeConfig {
  /** Path of the config file, named in errors (default "config.yaml"). */
  path?: string | null;
  algor?: { algorithms_parameters?: { num_arms?: number | null; num_features?: number | null } };
}

/** A config whose num_arms or num_features differs from the client app's; names the file and the keys. */
export class AppConfigMismatchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AppConfigMismatchError";
  }
}

/**
 * Checks up front that the config's model shape is the app's: algor.algorithms_parameters.num_arms
 * must equal the app's number of actions and num_features its number of context features (7 and
 * 9 for the Statlog shuttle app). Throws AppConfigMismatchError naming the config file, each
 * wrong key, its value and the value to set; a key the config leaves out is not checked.
 */
export function checkAppMatchesConfig(app: { numActions: number; numFeatures: number }, config: AppShapeConfig): void {
  const file = config.path ?? "config.yaml";
  const p = config.algor?.algorithms_parameters ?? {};
  const problems: string[] = [];
  if (p.num_arms != null && p.num_arms !== app.numActions) {
    problems.push(`algor.algorithms_parameters.num_arms is ${p.num_arms} but the app has ${app.numActions} actions: set num_arms: ${app.numActions}`);
  }
  if (p.num_features != null && p.num_features !== app.numFeatures) {
    problems.push(`algor.algorithms_parameters.num_features is ${p.num_features} but the app's contexts have ${app.numFeatures} features: set num_features: ${app.numFeatures}`);
  }
  if (problems.length > 0) throw new AppConfigMismatchError(`${file} does not match the client app: ${problems.join("; ")}`);
}
