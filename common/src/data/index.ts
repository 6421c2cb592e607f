export * from "./records";
export * from "./split";
export * from "./joinedFiles";
export * from "./vwText";
export * from "./numbers";
export * from "./rewards";
export * from "./time";
export { MAX_LINE_BYTES } from "./lines";
