export * from "./util/random";
export * from "./config";
export * from "./data";
export * from "./learner";
export * from "./ope";
export * from "./experiment";
export * from "./platform";
export * from "./display";
