export * from "./records";
export * from "./joinedFiles";
export * from "./vwText";
