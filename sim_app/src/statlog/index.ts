export * from "./app-config";
export * from "./data";
export * from "./sim-app";
export * from "./warm-start";
