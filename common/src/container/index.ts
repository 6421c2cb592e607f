/** The SageMaker job contract and the three entry points: train, evaluate, serve. */
export * from "./contract";
export * from "./entry-points";
export { trainJob, type TrainingOutcome } from "./train";
export { evaluateJob, estimatorOfHyperparameters } from "./evaluate";
export * from "./serve";
