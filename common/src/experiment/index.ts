export * from "./ids";
export * from "./errors";
export * from "./predictor";
export * from "./manager";
