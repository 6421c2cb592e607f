export * from "./options";
export * from "./policies";
export { FeatureMapState, FEATURE_HASH_SEED, CONSTANT_FEATURE, BIN_FIT_ROWS, quantileEdges, binOf } from "./features";
export { GdState } from "./gd";
export { argmin, egreedyPmf, softmaxPmf, squarecbPmf, floorPmf, poisson1FromUniform } from "./explore";
export * from "./learner";
export * from "./model";
export * from "./reference";
