/**
 * Workflow errors. Every failure is thrown with its cause (the original logged and swallowed
 * them, D-12/D-13/D-41); names follow the original's exceptions.
 */
export class WorkflowError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "WorkflowError";
  }
}

/** The call cannot be made in the experiment's current state (the message says what to do). */
export class InvalidUsageError extends WorkflowError {
  constructor(message: string) {
    super(message);
    this.name = "InvalidUsageError";
  }
}

/** Another manager runs the same workflow step right now. */
export class WorkflowInProgressError extends InvalidUsageError {
  constructor(message: string) {
    super(message);
    this.name = "WorkflowInProgressError";
  }
}

export class TrainingJobError extends WorkflowError {
  constructor(message: string, readonly logs: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "TrainingJobError";
  }
}

export class EvaluationJobError extends WorkflowError {
  constructor(message: string, readonly logs: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "EvaluationJobError";
  }
}

export class HostingError extends WorkflowError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "HostingError";
  }
}

export class JoiningError extends WorkflowError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "JoiningError";
  }
}

export class EvalScoreNotAvailableError extends WorkflowError {
  constructor(message: string) {
    super(message);
    this.name = "EvalScoreNotAvailableError";
  }
}

/** The experiment's records were deleted (cleanTableRecords) by this or another manager. */
export class ExperimentDeletedError extends WorkflowError {
  constructor(experimentId: string) {
    super(`the records of experiment '${experimentId}' were deleted; create a new ExperimentManager to start it again`);
    this.name = "ExperimentDeletedError";
  }
}
