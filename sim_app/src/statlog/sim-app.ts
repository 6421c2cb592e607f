/**
 * The simulated client application: users are rows of the shuttle data, a user's context is the
 * row's normalised features, and the reward is 1 when the chosen action is the row's true class.
 */
import { JoinedRecord, RewardRecord, type ClientApplication } from "@cbkit/common";
import { Rng } from "@cbkit/common/util";
import { AppShapeConfig, checkAppMatchesConfig } from "./app-config";
import { ClassSummaryRow, DataFileSetting, StatlogData, classSummary, loadStatlogData, resolveShuttleDataFile } from "./data";
import { prepareStatlogWarmStartData } from "./warm-start";
import { showValue } from "@cbkit/common/util";

export interface StatlogSimAppOptions {
  /** shuttle.trn; defaults to the config's data_file or ../shared/data/shuttle.trn. */
  dataFile?: string | null;
  /** Seed of the user sequence (default: the config's seed, else 1). */
  seed?: number | string;
  /**
   * A loaded config: its data_file and seed are used when the options above are absent, and its
   * num_arms / num_features must be the app's (checkAppMatchesConfig).
   */
  config?: (DataFileSetting & AppShapeConfig & { seed?: number }) | null;
}

export interface SimUser {
  /** Row index in the preprocessed data. */
  userId: number;
  /** The user's normalised features (a fresh array). */
  context: number[];
}

export interface GetRewardArgs {
  userId: number;
  action: number;
  eventId: string;
  modelId: string;
  actionProb: number;
  /** The decision's split value (the record's `sample_prob`): a hash of the event id in [0, 1), not an action probability. */
  sampleProb: number;
  /**
   * true: keep only `{event_id, reward}` in rewardsBuffer, as a production app does (the endpoint
   * has logged the decision); false (default): keep the whole joined record in joinedDataBuffer.
   */
  rewardOnly?: boolean;
  /** The original's name for the opposite of `rewardOnly` (false = reward only); `rewardOnly` wins when both are given. */
  localMode?: boolean;
}

/** The shuttle app; the continual-learning loop of @cbkit/common runs it as its `ClientApplication`. */
export class StatlogSimApp implements ClientApplication<SimUser> {
  readonly data: StatlogData;
  readonly numActions: number;
  readonly numFeatures: number;
  /** Number of users (rows kept after the class filter). */
  readonly numUsers: number;
  /** Per-user context views into the shared normalised matrix (read only). */
  readonly contexts: Float64Array[];
  /** True class of each user, 1-based. */
  readonly labels: Uint8Array;
  readonly seed: number | string;
  /** Best achievable mean reward (always picking the true class). */
  readonly oracleReward = 1.0;
  /** Mean reward of always choosing class 1 (the most common class). */
  readonly majorityReward: number;
  /** Reward mean of a uniform random policy over numActions. */
  readonly randomReward: number;
  rewardsBuffer: RewardRecord[] = [];
  joinedDataBuffer: JoinedRecord[] = [];
  private rng: Rng;

  constructor(options: StatlogSimAppOptions = {}) {
    this.data = loadStatlogData(options.dataFile ?? (options.config ? resolveShuttleDataFile(options.config) : undefined));
    this.numActions = this.data.numActions;
    this.numFeatures = this.data.numFeatures;
    this.numUsers = this.data.numRows;
    this.labels = this.data.labels;
    const nf = this.numFeatures;
    this.contexts = Array.from({ length: this.numUsers }, (_, i) =>
      this.data.contexts.subarray(i * nf, (i + 1) * nf),
    );
    const counts = this.data.classCountsAfter;
    this.majorityReward = Math.max(...counts) / this.numUsers;
    this.randomReward = 1 / this.numActions;
    if (options.config) checkAppMatchesConfig(this, options.config);
    this.seed = options.seed ?? options.config?.seed ?? 1;
    this.rng = Rng.derive(this.seed, "statlog-users");
  }

  /** Rows per class 1..7 after the filter (index 0 = class 1). */
  get classCounts(): number[] {
    return this.data.classCountsAfter.slice();
  }

  /** Counts and shares per class before and after the filter. */
  classSummary(): ClassSummaryRow[] {
    return classSummary(this.data);
  }

  /** The context of a user as a plain array. */
  contextOf(userId: number): number[] {
    this.checkUser(userId);
    return Array.from(this.contexts[userId]);
  }

  /** A uniformly random user (with replacement) from the seeded generator. */
  chooseRandomUser(): SimUser {
    const userId = this.rng.int(this.numUsers);
    return { userId, context: Array.from(this.contexts[userId]) };
  }

  /** 1 when the 1-based action is the user's true class, else 0; no buffering. */
  rewardOf(userId: number, action: number): number {
    this.checkUser(userId);
    if (!Number.isInteger(action) || action < 1 || action > this.numActions) {
      throw new RangeError(`action must be an integer 1..${this.numActions} (1-based), got ${action}`);
    }
    return this.labels[userId] === action ? 1 : 0;
  }

  /** The loop's next user (ClientApplication): a uniformly random user, as `chooseRandomUser`. */
  nextUser(): SimUser {
    return this.chooseRandomUser();
  }

  /** The reward the loop records for the action taken for `user` (ClientApplication): `rewardOf`. */
  rewardFor(user: SimUser, action: number): number {
    return this.rewardOf(user.userId, action);
  }

  /**
   * The loop's warm-start data (ClientApplication): `count` decisions of a uniformly random policy
   * with their rewards, `prepareStatlogWarmStartData` with this app's data file and seed.
   */
  warmStartData(count: number): JoinedRecord[] {
    return prepareStatlogWarmStartData({ dataFile: this.data.file, batchSize: count, seed: this.seed });
  }

  /**
   * The reward of `action` for `userId`, recorded as the original does: in local mode the full
   * joined record goes to joinedDataBuffer, otherwise `{reward, event_id}` goes to rewardsBuffer.
   */
  getReward(args: GetRewardArgs): number;
  getReward(
    userId: number,
    action: number,
    eventId: string,
    modelId: string,
    actionProb: number,
    sampleProb: number,
    localMode?: boolean,
  ): number;
  getReward(
    first: number | GetRewardArgs,
    action?: number,
    eventId?: string,
    modelId?: string,
    actionProb?: number,
    sampleProb?: number,
    localMode = true,
  ): number {
    const a: GetRewardArgs =
      typeof first === "object"
        ? first
        : { userId: first, action: action!, eventId: eventId!, modelId: modelId!, actionProb: actionProb!, sampleProb: sampleProb!, localMode };
    if (typeof a.eventId !== "string" || a.eventId === "") {
      throw new TypeError(`eventId must be a non-empty string, got ${showValue(a.eventId)}`);
    }
    const reward = this.rewardOf(a.userId, a.action);
    const rewardOnly = a.rewardOnly ?? a.localMode === false;
    if (!rewardOnly) {
      this.joinedDataBuffer.push({
        reward,
        event_id: a.eventId,
        action: a.action,
        action_prob: a.actionProb,
        model_id: a.modelId,
        observation: Array.from(this.contexts[a.userId]),
        sample_prob: a.sampleProb,
      });
    } else {
      this.rewardsBuffer.push({ reward, event_id: a.eventId });
    }
    return reward;
  }

  /** Empties both buffers. */
  clearBuffer(): void {
    this.rewardsBuffer = [];
    this.joinedDataBuffer = [];
  }

  private checkUser(userId: number): void {
    if (!Number.isInteger(userId) || userId < 0 || userId >= this.numUsers) {
      throw new RangeError(`userId must be an integer 0..${this.numUsers - 1}, got ${userId}`);
    }
  }
}
