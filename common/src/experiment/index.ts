export * from "./ids";
export * from "./errors";
export * from "./predictor";
export * from "./manager";
export * from "./local-files";
export * from "./gate";
export * from "./loop";
